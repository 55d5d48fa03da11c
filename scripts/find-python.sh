#!/bin/sh
# Prints the path of a Python 3.12+ interpreter: first from PATH, then from pyenv.
# Exits 1 with a message on stderr if there is none.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

for name in python3.14 python3.13 python3.12 python3 python; do
    path=$(command -v "$name" 2>/dev/null) || continue
    if ok "$path"; then echo "$path"; exit 0; fi
done
# pyenv shims fail unless a version is selected: look at the installed versions directly.
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]* "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.[2-9][0-9]*; do
    for path in "$dir"/bin/python3; do
        if [ -x "$path" ] && ok "$path"; then echo "$path"; exit 0; fi
    done
done
echo "SocialDesk needs Python 3.12 or newer (Django 6), and none was found on PATH or in pyenv." >&2
echo "Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12) and retry." >&2
exit 1
