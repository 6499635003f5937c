#!/usr/bin/env bash
# Regenerates the page font of `tuneprint serve` (src/serve/assets/dejavu-sans-latin.woff2): the
# committed DejaVu Sans (src/report/assets/DejaVuSans.ttf) cut down to Latin-1 plus the punctuation
# the page uses, as WOFF2. Needs fonttools and brotli (pip); the output is committed, so a normal
# build never runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
"$py" -c "import fontTools, brotli" 2>/dev/null || {
    echo "make_page_font: needs fonttools and brotli (pip install fonttools brotli)" >&2
    exit 1
}
"$py" -m fontTools.subset src/report/assets/DejaVuSans.ttf \
    --unicodes="U+0020-007E,U+00A0-00FF,U+2013-2014,U+2018-201D,U+2022,U+2026,U+2190-2193,U+2212,U+25B6,U+25BC,U+25B2,U+00D7,U+266A,U+275A" \
    --layout-features='kern,liga' --no-hinting --desubroutinize \
    --flavor=woff2 --output-file=src/serve/assets/dejavu-sans-latin.woff2
ls -l src/serve/assets/dejavu-sans-latin.woff2
