"""Run the registry service: `python -m services.registry` or `credledger serve registry`."""

from services.registry.app import create_app
from shared.service import serve

if __name__ == "__main__":
    serve("registry", create_app)
