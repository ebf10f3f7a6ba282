"""`python -m todo_api.secret_strength`: zxcvbn's judgment of the text on stdin, as log10 of its
guesses on stdout. Run by `config_checks` in a child interpreter, so that zxcvbn's dictionaries
never stay in a serving process."""

from __future__ import annotations

import sys

from todo_api.config_checks import zxcvbn_guess_digits

if __name__ == "__main__":
    print(zxcvbn_guess_digits(sys.stdin.read()))
