"""Run the issuance service: `python -m services.issuance` or `credledger serve issuance`."""

from services.issuance.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("issuance", create_app)
