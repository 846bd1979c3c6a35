"""Run the employer portal: `python -m services.employer` or `credledger serve employer`."""

from __future__ import annotations

from services.employer.app import create_app
from shared.service import serve


def main() -> None:
    serve("employer", create_app)


if __name__ == "__main__":
    main()
