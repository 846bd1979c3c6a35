"""Run the wallet service: `python -m services.wallet` or `credledger serve wallet`."""

from services.wallet.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("wallet", create_app)
