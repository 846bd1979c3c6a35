"""Run the revocation service: `python -m services.revocation` or `credledger serve revocation`."""

from services.revocation.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("revocation", create_app)
