"""Run the Kafka intake: `python -m services.intake` or `credledger intake`."""

from services.intake.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("intake", create_app)
