"""Run the verification service: `python -m services.verification` or `credledger serve verification`."""

from services.verification.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("verification", create_app)
