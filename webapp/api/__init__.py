"""One flask-smorest Blueprint per resource, built from the `Blueprint` below."""

from __future__ import annotations

import flask_smorest

PAGINATION_HEADER_DOC = {
    "description": (
        "Pagination metadata as a JSON object: total, total_pages, first_page, last_page, page, "
        "previous_page, next_page (the last five only when there are items)."
    ),
    "schema": {"type": "string"},
}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, documenting X-Pagination as what it is on the wire: a string.

    flask-smorest declares the header with an object schema, which OpenAPI validators (schemathesis)
    rightly reject, because a header value is text holding JSON.
    """

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC
