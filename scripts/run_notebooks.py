"""Executes notebooks headless with nbclient and the tslab kernel (scripts/notebooks.sh sets
both up). Fails on the first cell error, printing the cell and the error; refuses a notebook
committed with outputs. Executed copies go to .cache/notebooks/out/ (git-ignored).

A notebook may need data that is not in the repository: its metadata names it as
{"preempt": {"data": {"env": "VAR", "default": "path"}}}; when neither exists the notebook is
skipped with a message saying where to put the data.
"""
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, '.cache', 'notebooks', 'out')


def committed_outputs(nb):
    return [i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and (c.outputs or c.execution_count)]


def main(paths):
    os.makedirs(OUT, exist_ok=True)
    failed = 0
    for path in paths:
        name = os.path.basename(path)
        nb = nbformat.read(path, as_version=4)
        dirty = committed_outputs(nb)
        if dirty:
            print(f'{name}: FAILED: committed with outputs in cells {dirty}; clear them before committing')
            failed += 1
            continue
        need = nb.metadata.get('preempt', {}).get('data')
        if need:
            where = os.environ.get(need['env']) or need['default']
            if not os.path.exists(os.path.join(ROOT, where)):
                print(f"{name}: skipped: needs {where} (set {need['env']} or put the file at {need['default']}; see the notebook's first cell)")
                continue
        started = time.time()
        client = NotebookClient(nb, kernel_name='tslab', timeout=900, resources={'metadata': {'path': ROOT}})
        try:
            client.execute()
        except CellExecutionError as err:
            print(f'{name}: FAILED after {time.time() - started:.1f} s')
            print(str(err)[-3000:])
            failed += 1
            continue
        finally:
            nbformat.write(nb, os.path.join(OUT, name))
        cells = sum(1 for c in nb.cells if c.cell_type == 'code')
        print(f'{name}: ok, {cells} code cells in {time.time() - started:.1f} s (executed copy: .cache/notebooks/out/{name})')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
