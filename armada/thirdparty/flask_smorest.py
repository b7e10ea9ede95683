"""flask-smorest's internals: the spec's offset-pagination header, registered whether or not anything paginates.

`Api._register_spec` calls `_register_pagination_header` (private) for `@blp.paginate`'s `X-Pagination` header,
which drags its page/offset `PaginationMetadata` schema into every document. Armada pages by keyset only and
never uses `@blp.paginate`, so ApiBase registers nothing there.
"""

from __future__ import annotations

from flask_smorest import Api

from armada.thirdparty import require

SUPPORTED = ">=0.47,<0.48"
require("flask-smorest", SUPPORTED)


class ApiBase(Api):
    """flask-smorest's Api without the offset-pagination header and schema in its document."""

    # flask-smorest's internals

    def _register_pagination_header(self) -> None:
        pass
