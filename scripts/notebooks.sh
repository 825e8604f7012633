#!/usr/bin/env bash
# npm run notebooks: executes every notebooks/*.ipynb headless and fails on any cell error,
# so the notebooks cannot rot. Jupyter's client pieces (nbclient, jupyter-client, nbformat)
# come from PyPI into a git-ignored venv made here; the TypeScript kernel is tslab (an npm
# devDependency), registered in that venv only. Notebooks import the built dist/.
#
#   npm run notebooks                      # all of them
#   npm run notebooks -- notebooks/01-*.ipynb
#   PREEMPT_CMAPSS=path/to/train.csv npm run notebooks   # with the run-to-failure data
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/notebooks/venv
if ! "$venv/bin/python" -c 'import nbclient, jupyter_client' 2>/dev/null; then
  echo "== installing nbclient into $venv (PyPI)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q 'nbclient==0.11.0' 'nbformat==5.11.1' 'jupyter-client==8.10.0'; then
    echo "notebooks: could not install nbclient from PyPI (offline?); nothing executed" >&2
    rm -rf "$venv"
    exit 75
  fi
fi
# The kernel spec, pointing at this checkout's tslab (tslab's own installer wants IPython).
spec="$venv/share/jupyter/kernels/tslab"
mkdir -p "$spec"
printf '{"argv": ["%s", "kernel", "--config-path", "{connection_file}"], "display_name": "TypeScript", "language": "typescript"}\n' \
  "$PWD/node_modules/.bin/tslab" >"$spec/kernel.json"
# dist/ as the sources are now (prepare builds it on npm ci; a few seconds when stale).
if [ ! -f dist/main.js ] || [ -n "$(find src -newer dist/main.js -name '*.ts' -print -quit)" ]; then
  echo "== building dist/"
  npm run -s build
fi
if [ "$#" -eq 0 ]; then set -- notebooks/*.ipynb; fi
JUPYTER_PLATFORM_DIRS=1 "$venv/bin/python" scripts/run_notebooks.py "$@"
