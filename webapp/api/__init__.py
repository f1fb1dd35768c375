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


def error_docs(blp: flask_smorest.Blueprint, descriptions: dict[int, str]):
    """`documents(*codes)`: a decorator documenting the error responses a view of `blp` can give (their
    texts from `descriptions`), besides 422 (flask-smorest adds it)."""
    from flask_smorest.error_handler import ErrorSchema

    def documents(*codes):
        def decorate(view):
            for code in codes:
                view = blp.alt_response(code, schema=ErrorSchema, description=descriptions[code])(view)
            return view
        return decorate
    return documents
