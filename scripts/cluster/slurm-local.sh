#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests (Debian's slurm-wlm 22.05 and munge;
# no systemd needed: the daemons are started by hand, as root).
#   scripts/cluster/slurm-local.sh start    installs slurm-wlm and munge (apt-get) if missing,
#       writes a one-node config (partition `debug`, two one-core jobs per core, no cgroups, no accounting),
#       starts munged, slurmctld and slurmd, and waits until the node is idle. The last line on
#       stdout is `export SLURM_CONF=<dir>/slurm.conf`, for `eval "$(... start)"`. A no-op (but
#       that line) when the cluster is up.
#   scripts/cluster/slurm-local.sh stop     cancels the cluster's jobs, stops slurmd and slurmctld
#       (and munged if `start` started it).
#   scripts/cluster/slurm-local.sh status   prints sinfo, or exits 1 when the cluster is down.
# Everything lives in $TUNEPRINT_SLURM_DIR (default /tmp/tuneprint-slurm): config, logs, pid
# files, slurmctld state, slurmd spool; each start wipes the state (a fresh cluster, job ids from
# 1). Ports: $TUNEPRINT_SLURM_PORT (slurmctld, default 6817) and the next one (slurmd).
# $TUNEPRINT_SLURM_MIN_JOB_AGE: seconds a finished job stays known (default 4; see MinJobAge below).
# /etc/slurm/slurm.conf is made a symlink to the generated config when there is none, so slurm
# commands work without SLURM_CONF too; `stop` removes it again.
set -euo pipefail

dir="${TUNEPRINT_SLURM_DIR:-/tmp/tuneprint-slurm}"
ctld_port="${TUNEPRINT_SLURM_PORT:-6817}"
min_job_age="${TUNEPRINT_SLURM_MIN_JOB_AGE:-4}"
slurmd_port=$((ctld_port + 1))
conf="$dir/slurm.conf"
etc_conf=/etc/slurm/slurm.conf
host="$(hostname -s)"
export SLURM_CONF="$conf"
export PATH="$PATH:/usr/sbin:/sbin"

usage() { echo "usage: $0 start | stop | status" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in start | stop | status) ;; *) usage ;; esac

if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo TUNEPRINT_SLURM_DIR="$dir" TUNEPRINT_SLURM_PORT="$ctld_port" \
            TUNEPRINT_SLURM_MIN_JOB_AGE="$min_job_age" bash "$0" "$@"
    fi
    echo "slurm-local: error: must run as root (slurmd runs jobs as their users)" >&2
    exit 1
fi

log() { echo "slurm-local: $*" >&2; }

started=0 # set once start has launched slurmctld/slurmd: a failed start stops them again

die() {
    echo "slurm-local: error: $*" >&2
    local f pid stop=()
    for f in "$dir/slurmctld.log" "$dir/slurmd.log" /var/log/munge/munged.log; do
        if [ -s "$f" ]; then
            echo "--- tail of $f" >&2
            tail -n 15 "$f" >&2
        fi
    done
    if [ "$started" = 1 ]; then
        if pid="$(slurmd_pid)"; then stop+=("slurmd:$pid"); fi
        if pid="$(ctld_pid)"; then stop+=("slurmctld:$pid"); fi
        if [ "${#stop[@]}" -gt 0 ]; then stop_pids "${stop[@]}"; fi
    fi
    exit 1
}

# The pid of daemon $1 (slurmctld, slurmd) from its pid file $2, if that process is alive.
alive_pid() {
    local pid
    [ -s "$2" ] || return 1
    pid="$(cat "$2" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
    echo "$pid"
}

ctld_pid() { alive_pid slurmctld "$dir/slurmctld.pid"; }
slurmd_pid() { alive_pid slurmd "$dir/slurmd.pid"; }

# Sends TERM to each "name:pid" given, waits up to 20 s for them all to exit (they take 1-2 s; a
# slurmd that cannot reach slurmctld up to 20 s), then KILLs what is left.
stop_pids() {
    local np i left
    for np in "$@"; do kill -TERM "${np#*:}" 2>/dev/null || true; done
    for ((i = 0; i < 200; i++)); do
        left=0
        for np in "$@"; do
            [ "$(cat "/proc/${np#*:}/comm" 2>/dev/null)" = "${np%%:*}" ] && left=1
        done
        [ "$left" = 1 ] || return 0
        sleep 0.1
    done
    for np in "$@"; do
        if [ "$(cat "/proc/${np#*:}/comm" 2>/dev/null)" = "${np%%:*}" ]; then
            log "${np%%:*} (${np#*:}) did not exit after 20 s; killing it"
            kill -KILL "${np#*:}" 2>/dev/null || true
        fi
    done
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

install_slurm() {
    local b missing=0
    for b in slurmctld slurmd sbatch sinfo munged mungekey; do
        command -v "$b" >/dev/null 2>&1 || missing=1
    done
    [ "$missing" = 1 ] || return 0
    log "installing slurm-wlm and munge (apt-get)"
    # Keep the packages' maintainer scripts from starting the daemons (as in Docker images).
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    local pkgs=(slurm-wlm munge) rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${pkgs[@]}" >&2 ||
        rc=$?
    if [ "$rc" != 0 ]; then
        log "apt-get install failed; running apt-get update and trying again"
        rc=0
        apt-get update >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
                "${pkgs[@]}" >&2 || rc=$?
    fi
    if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
    [ "$rc" = 0 ] || die "apt-get install slurm-wlm munge failed"
    command -v slurmctld >/dev/null 2>&1 || die "slurmctld is still missing after apt-get install"
}

start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    # munged insists on these owners and modes.
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    chmod 700 /var/lib/munge /var/log/munge
    munge_works && return 0
    log "starting munged"
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged || die "munged did not start"
    local i
    for ((i = 0; i < 50; i++)); do
        munge_works && break
        sleep 0.1
    done
    munge_works || die "munged started but munge -n | unmunge fails"
    cat /run/munge/munged.pid >"$dir/munged.ours"
}

write_conf() {
    local cpus mem_kb mem
    cpus="$(nproc)"
    mem_kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
    mem=$((mem_kb / 1024 * 95 / 100)) # MiB, a bit below the total (slurmd drains the node if above)
    cat >"$conf.tmp" <<EOF
# Generated by scripts/cluster/slurm-local.sh: a one-node cluster for tests.
ClusterName=tuneprint
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
# Schedule at once: on submission, when a job ends, and every second.
SchedulerParameters=bf_interval=1,sched_interval=1,sched_min_interval=2,batch_sched_delay=0
# A job whose dependency can never be satisfied (afterok on a failed job) is cancelled instead of
# pending forever (sbatch --wait on it then exits 0: it never ran).
DependencyParameters=kill_invalid_depend
# A job that asks for more than the node has is refused at submission instead of pending forever.
EnforcePartLimits=ALL
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MaxArraySize=10001
# sbatch --wait polls every 2 s only with MinJobAge <= 4 (its back-off 2, 8, 32 s stops below
# MinJobAge/2); the price: a finished job's record is gone about MinJobAge s after it ends (an
# afterok dependency on a purged job counts as satisfied).
MinJobAge=$min_job_age
InactiveLimit=0
KillWait=5
SlurmctldTimeout=60
SlurmdTimeout=120
Waittime=0
TmpFS=/tmp
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
# Two jobs per core: the 4 one-core tasks of the tests and of scripts/cluster/bench.sh run at
# once on a 2-core machine (the kernel shares the cores), as on a cluster with a core each,
# instead of in two waves that leave a core idle while the larger shards finish.
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
EOF
    mv "$conf.tmp" "$conf"
}

link_etc_conf() {
    if [ ! -e "$etc_conf" ] && [ ! -L "$etc_conf" ]; then
        mkdir -p "$(dirname "$etc_conf")"
        ln -s "$conf" "$etc_conf"
        echo "$etc_conf" >"$dir/etc-link.ours"
    elif [ "$(readlink "$etc_conf" 2>/dev/null)" != "$conf" ]; then
        log "$etc_conf exists and is not ours: plain slurm commands need SLURM_CONF=$conf"
    fi
}

node_state() { timeout 5 sinfo -h -n "$host" -o %T 2>/dev/null | head -n 1; }

# Waits (60 s at most) until slurmd has registered and the node takes jobs.
wait_idle() {
    local state="" resumed=-100 deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        ctld_pid >/dev/null || die "slurmctld exited while starting"
        slurmd_pid >/dev/null || die "slurmd exited while starting"
        state="$(node_state)" || state=""
        case "$state" in
            idle | mixed | allocated | completing) return 0 ;;
            down | drain* | fail*)
                # ReturnToService=2 brings a down node back when slurmd registers; a drained one
                # (e.g. after a crash or a config change) needs an explicit resume.
                if [ $((SECONDS - resumed)) -ge 2 ]; then
                    log "node $host is $state; resuming it"
                    timeout 5 scontrol update nodename="$host" state=resume >&2 || true
                    resumed=$SECONDS
                fi
                ;;
        esac
        sleep 0.1
    done
    local reason
    reason="$(timeout 5 sinfo -h -n "$host" -o %E 2>/dev/null | head -n 1)" || true
    die "node $host not idle after 60 s (state '${state:-no answer}'${reason:+, reason '$reason'})"
}

cmd_start() {
    install_slurm
    mkdir -p "$dir/state" "$dir/spool"
    start_munge
    if ctld_pid >/dev/null && slurmd_pid >/dev/null; then
        link_etc_conf
        echo "export SLURM_CONF=$conf"
        return 0
    fi
    # A half-running cluster (one daemon died) restarts as a whole, with a fresh config.
    local pid stop=()
    if pid="$(slurmd_pid)"; then stop+=("slurmd:$pid"); fi
    if pid="$(ctld_pid)"; then stop+=("slurmctld:$pid"); fi
    if [ "${#stop[@]}" -gt 0 ]; then stop_pids "${stop[@]}"; fi
    # Every start is a fresh cluster: no jobs recovered from an earlier one, job ids from 1.
    rm -rf "$dir/state" "$dir/spool"
    mkdir -p "$dir/state" "$dir/spool"
    local f
    for f in slurmctld slurmd; do
        if [ -e "$dir/$f.log" ]; then mv -f "$dir/$f.log" "$dir/$f.log.old"; fi
    done
    write_conf
    link_etc_conf
    log "starting slurmctld and slurmd ($host, $(nproc) CPUs, state in $dir)"
    started=1
    slurmctld -f "$conf" || die "slurmctld did not start"
    slurmd -f "$conf" -N "$host" || die "slurmd did not start"
    local i
    for ((i = 0; i < 100; i++)); do
        ctld_pid >/dev/null && slurmd_pid >/dev/null && break
        sleep 0.1
    done
    ctld_pid >/dev/null || die "slurmctld exited after starting"
    slurmd_pid >/dev/null || die "slurmd exited after starting"
    wait_idle
    log "up: node $host is $(node_state)"
    echo "export SLURM_CONF=$conf"
}

cmd_stop() {
    local pid i jobs
    if ctld_pid >/dev/null; then
        # Running jobs' slurmstepd would outlive slurmd: cancel every job of this cluster first.
        jobs="$(timeout 10 squeue -h -o %A 2>/dev/null)" || jobs=""
        if [ -n "$jobs" ]; then
            log "cancelling $(echo "$jobs" | wc -l) job(s)"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 150; i++)); do
                [ -z "$(timeout 5 squeue -h -o %A -t running,completing 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    local stop=()
    if pid="$(slurmd_pid)"; then stop+=("slurmd:$pid"); fi
    if pid="$(ctld_pid)"; then stop+=("slurmctld:$pid"); fi
    if [ -s "$dir/munged.ours" ]; then
        pid="$(cat "$dir/munged.ours")"
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = munged ]; then stop+=("munged:$pid"); fi
    fi
    if [ "${#stop[@]}" -gt 0 ]; then
        log "stopping ${stop[*]}"
        stop_pids "${stop[@]}"
    fi
    rm -f "$dir/munged.ours"
    if [ -s "$dir/etc-link.ours" ]; then
        if [ "$(readlink "$etc_conf" 2>/dev/null)" = "$conf" ]; then rm -f "$etc_conf"; fi
        rm -f "$dir/etc-link.ours"
    fi
}

cmd_status() {
    if ctld_pid >/dev/null && slurmd_pid >/dev/null && timeout 10 sinfo 2>/dev/null; then
        return 0
    fi
    echo "slurm-local: not running (state folder $dir)"
    return 1
}

"cmd_$1"
