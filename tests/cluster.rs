//! The files under `scripts/cluster` run for real. `slurm.sh` submits its array job and the
//! dependent merge to the single-node Slurm cluster that `scripts/cluster/slurm-local.sh start`
//! runs on this machine (`scripts/test.sh` starts it): one shard is killed mid-scan by the test
//! hook and submitted again, and the merged library must equal one `library scan` of the same
//! folder. The Kubernetes manifest's container commands run here with the Indexed Job's
//! environment for every index, then the merge Job's.

mod common;

use common::{library_dump, root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tuneprint");

/// The committed clips, 31 more files cut from them (6 to 25 s) and one file that is not
/// audio: 41 files in all.
fn collection(dir: &Path) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(music.join("cuts")).unwrap();
    let mut clips = Vec::new();
    for e in std::fs::read_dir(root().join("audio")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, music.join(p.file_name().unwrap())).unwrap();
        if p.extension().is_some_and(|x| x == "wav") {
            clips.push(p);
        }
    }
    clips.sort();
    for k in 0..31 {
        let mut r = hound::WavReader::open(&clips[k % clips.len()]).unwrap();
        let spec = r.spec();
        let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        let rate = spec.sample_rate as usize;
        let (start, len) = ((k * 3 % 20) * rate, (6 + k % 20) * rate);
        let path = music.join(format!("cuts/{k:02}.wav"));
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for s in &all[start..(start + len).min(all.len())] {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }
    std::fs::write(music.join("cuts/notes.mp3"), b"these are notes, not audio").unwrap();
    music
}

/// One `library scan` of the folder (exit 1: the file that is not audio).
fn single_scan(dir: &Path, music: &Path) -> PathBuf {
    let db = dir.join("one.db");
    let o = Command::new(BIN)
        .args(["library", "scan", "--jobs", "2", "--db"])
        .arg(&db)
        .arg(music)
        .env("TUNEPRINT_HOME", dir.join("no-home"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    db
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The number before `what` in a scan's summary line (`…: 10 files, 7 analysed, 3 unchanged
/// in 1.20 s`), 0 when absent.
fn count(summary: &str, what: &str) -> u64 {
    let words: Vec<&str> = summary
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|w| w[1] == what)
        .map_or(0, |w| w[0].parse().unwrap())
}

/// Runs `scripts/cluster/slurm.sh ARGS` with 4 shards of one core each, waiting for the merge.
fn slurm(music: &Path, out: &Path, home: &Path, args: &[&str], abort_after: Option<u32>) -> Output {
    let mut c = Command::new("bash");
    c.arg(root().join("scripts/cluster/slurm.sh"))
        .args(args)
        .env("MUSIC", music)
        .env("OUT", out)
        .env("SHARDS", "4")
        .env("CPUS", "1")
        .env("MEM", "1G")
        .env("TUNEPRINT", BIN)
        .env("TUNEPRINT_HOME", home)
        .env("WAIT", "1")
        .env_remove(tuneprint::config::TEST_ABORT_ENV);
    if let Some(n) = abort_after {
        c.env(tuneprint::config::TEST_ABORT_ENV, n.to_string());
    }
    c.output().unwrap()
}

/// The scan logs of shard `index` (`scan-JOB-INDEX.out`), oldest job first.
fn scan_logs(out: &Path, index: u32) -> Vec<String> {
    let mut logs: Vec<(u64, String)> = std::fs::read_dir(out.join("logs"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("scan-")?.strip_suffix(".out")?;
            let (job, i) = rest.split_once('-')?;
            (i == index.to_string()).then(|| (job.parse().unwrap(), name.clone()))
        })
        .collect();
    logs.sort();
    logs.into_iter()
        .map(|(_, n)| std::fs::read_to_string(out.join("logs").join(n)).unwrap())
        .collect()
}

#[test]
fn slurm_array_killed_task_resubmitted_and_merged_equals_one_scan() {
    let up = Command::new("sinfo").args(["-h", "-o", "%T"]).output();
    let idle = up
        .as_ref()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("idle"));
    if !idle {
        tuneprint::config::skip_test(
            "a Slurm cluster with an idle node (scripts/cluster/slurm-local.sh start)",
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (music, out, home) = (
        collection(t.path()),
        t.path().join("out"),
        t.path().join("home"),
    );
    let one = single_scan(t.path(), &music);

    // Shard 1 alone, its process aborted right after its third song (the database's creation
    // is 3 writes, the model 1): the task fails, so the merge that depends on it is cancelled
    // and nothing is merged.
    let o = slurm(&music, &out, &home, &["1"], Some(3 + 1 + 3));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: no merge: a scan task failed (see "),
        "{}",
        show(&o)
    );
    let first = scan_logs(&out, 1);
    assert_eq!(first.len(), 1);
    assert!(
        first[0].contains("TUNEPRINT_TEST_ABORT_AFTER_WRITES=7: aborting after write 7"),
        "{}",
        first[0]
    );
    assert!(!out.join("library.db").exists());
    let stored: i64 = rusqlite::Connection::open(out.join("shard-1.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM songs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 3);

    // The whole array and the merge: shard 1 continues where it stopped.
    let o = slurm(&music, &out, &home, &[], None);
    assert!(o.status.success(), "{}", show(&o));
    let logs = scan_logs(&out, 1);
    assert_eq!(logs.len(), 2);
    let summary = logs[1].lines().last().unwrap_or_default().to_string();
    assert_eq!(count(&summary, "unchanged"), 3, "{}", logs[1]);
    let files = count(&summary, "files");
    assert_eq!(
        count(&summary, "analysed") + count(&summary, "failed") + 3,
        files,
        "{summary}"
    );
    let mut total = 0;
    for i in 0..4 {
        let log = scan_logs(&out, i).pop().unwrap();
        total += count(log.lines().last().unwrap_or_default(), "files");
    }
    assert_eq!(total, 41, "every file in exactly one shard");
    assert_eq!(library_dump(&out.join("library.db")), library_dump(&one));
}

/// A YAML document's field by path (`spec.template.spec.containers.0.args.0`).
fn field<'a>(doc: &'a yaml_rust2::Yaml, path: &str) -> &'a yaml_rust2::Yaml {
    path.split('.').fold(doc, |y, k| match k.parse::<usize>() {
        Ok(i) => &y[i],
        Err(_) => &y[k],
    })
}

/// Runs a Job's container command as the pod would, with the manifest's environment (the
/// volumes' paths replaced by folders here) and `extra`.
fn run_container(
    job: &yaml_rust2::Yaml,
    music: &Path,
    out: &Path,
    extra: &[(&str, &str)],
) -> Output {
    let c = field(job, "spec.template.spec.containers.0");
    let argv: Vec<String> = c["command"]
        .as_vec()
        .unwrap()
        .iter()
        .chain(c["args"].as_vec().unwrap())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let bin_dir = Path::new(BIN).parent().unwrap();
    cmd.env(
        "PATH",
        format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
    )
    .env("TUNEPRINT_HOME", out.join("no-home"));
    for e in c["env"].as_vec().unwrap() {
        let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        let value = match name {
            "MUSIC" => music.to_str().unwrap(),
            "OUT" => out.to_str().unwrap(),
            "POLL_SECONDS" => "1",
            _ => value,
        };
        cmd.env(name, value);
    }
    cmd.envs(extra.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn kubernetes_indexed_job_commands_merge_to_one_scan() {
    let text = std::fs::read_to_string(root().join("scripts/cluster/kubernetes.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let job = |name: &str| {
        docs.iter()
            .find(|d| d["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no Job {name}"))
    };
    let (scan, merge) = (job("tuneprint-scan"), job("tuneprint-merge"));
    assert_eq!(scan["spec"]["completionMode"].as_str(), Some("Indexed"));
    let shards = scan["spec"]["completions"].as_i64().unwrap();
    assert_eq!(scan["spec"]["parallelism"].as_i64(), Some(shards));
    for j in [scan, merge] {
        let env = field(j, "spec.template.spec.containers.0.env")
            .as_vec()
            .unwrap();
        let n = env
            .iter()
            .find(|e| e["name"].as_str() == Some("TUNEPRINT_SHARDS"))
            .and_then(|e| e["value"].as_str())
            .unwrap();
        assert_eq!(n, shards.to_string(), "TUNEPRINT_SHARDS is the completions");
    }
    let t = tempfile::tempdir().unwrap();
    let music = t.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for e in std::fs::read_dir(root().join("audio")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, music.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(music.join("notes.mp3"), b"not audio").unwrap();
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let one = single_scan(t.path(), &music);
    // The merge waits for every shard: started first, it is still waiting after the scans of
    // all but the last index.
    let waiting = {
        let out = out.clone();
        let music = music.clone();
        let merge = merge.clone();
        std::thread::spawn(move || run_container(&merge, &music, &out, &[]))
    };
    for i in 0..shards {
        let o = run_container(
            scan,
            &music,
            &out,
            &[("JOB_COMPLETION_INDEX", &i.to_string())],
        );
        assert!(o.status.success(), "index {i}: {}", show(&o));
        assert!(out.join(format!("shard-{i}.done")).is_file());
        if i == shards - 2 {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            assert!(!waiting.is_finished() && !out.join("library.db").exists());
        }
    }
    let o = waiting.join().unwrap();
    assert!(o.status.success(), "merge: {}", show(&o));
    assert_eq!(library_dump(&out.join("library.db")), library_dump(&one));
}
