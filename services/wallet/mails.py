"""The claim email's text and HTML, from the wallet's mail templates."""

from __future__ import annotations

import jinja2

from shared.web.pages import Realm


def claim_mail(jinja: jinja2.Environment, realm: Realm, url: str, title: str, issuer_name: str,
               days: int) -> tuple[str, str]:
    context = {"realm": realm, "url": url, "title": title, "issuer_name": issuer_name, "days": days}
    return (jinja.get_template("mail/claim.txt").render(context),
            jinja.get_template("mail/claim.html").render(context))
