"""Server-rendered pages shared by the services that serve people (wallet, employer portal, badge page)."""
