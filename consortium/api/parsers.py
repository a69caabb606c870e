"""How the API reads a request's body: JSON, a URL-encoded form, or a multipart form with files.

DRF's own parsers let some bodies through that nobody can read as sent: JSON nested deeper than
Python recurses is a server error; a multipart body cut short is read up to where it stops (a file
cut short would be kept, shorter); a form's bytes that are not text become "�"; and their
refusals quote Python's exception in English. These read the same media types and refuse, before
any view sees the body, whatever they cannot read whole, with a 400 (`parse_error`) in the
request's language. `REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]` names the JSON one, the body of
every operation without a file; `READERS` maps DRF's classes to these for the views that name
DRF's (the uploads' multipart, the token exchange's forms).

Kept apart from `base` for the reason `policies` is: DRF imports these while it loads its views.
"""

from __future__ import annotations

from collections.abc import Mapping
from json import JSONDecodeError
from typing import IO, Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import QueryDict
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json


def _charset(parser_context: Mapping[str, Any] | None) -> str:
    """The body's character set, as its Content-Type names it (Django has checked that Python
    knows it), if it is one of text: "decoding" with `bz2_codec` would inflate a small body."""
    charset = str((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
    try:
        "".encode(charset)
    except (LookupError, UnicodeError):
        raise ParseError(
            _("The Content-Type names a character set the API does not read: send UTF-8.")
        ) from None
    return charset


def _not_text(charset: str) -> ParseError:
    return ParseError(
        _("The request body is not valid %(charset)s text.") % {"charset": charset.upper()}
    )


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        charset = _charset(parser_context)
        try:
            text = stream.read().decode(charset)
        except UnicodeDecodeError:
            raise _not_text(charset) from None
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            # The decoder recurses once per level: what it cannot descend, nobody sends on purpose.
            raise ParseError(
                _("The request body nests arrays or objects too deeply to be read.")
            ) from None
        except JSONDecodeError as exc:
            raise ParseError(
                _(
                    "The request body is not valid JSON: the error is at line %(line)s, column "
                    "%(column)s."
                )
                % {"line": exc.lineno, "column": exc.colno}
            ) from None
        except ValueError:
            # NaN or Infinity, or an integer of thousands of digits.
            raise ParseError(_("The request body is not valid JSON.")) from None


class FormParser(parsers.FormParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        charset = _charset(parser_context)
        try:
            text = stream.read().decode(charset)
            # Django reads a byte or a %-escape that is not text as "�", or the whole body as
            # Latin-1: refused instead, as in JSON.
            parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
        except UnicodeDecodeError:
            raise _not_text(charset) from None
        return QueryDict(text, encoding=charset)


class _ClosingDelimiterWatch:
    """A multipart body on its way to Django's parser, watched for its closing delimiter
    (`--boundary--`): Django reads a body without it up to where it stops, as if complete."""

    def __init__(self, stream: IO[bytes], boundary: str) -> None:
        self._stream = stream
        self._delimiter = b"--" + boundary.encode("ascii", "replace") + b"--"
        self._tail = b""
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self._stream.read(size)
        if chunk and not self.closed:
            seen = self._tail + chunk
            self.closed = self._delimiter in seen
            # Enough of what was read for a delimiter split between two chunks.
            self._tail = seen[-len(self._delimiter) :]
        return chunk


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles:
        _charset(parser_context)
        boundary = parse_header_parameters(media_type or "")[1].get("boundary", "")
        watched = _ClosingDelimiterWatch(stream, boundary)
        broken = ParseError(
            _(
                "The multipart request body is incomplete or malformed: send every part, then "
                "the closing boundary."
            )
        )
        try:
            parsed: parsers.DataAndFiles = super().parse(
                watched,  # type: ignore[arg-type]  # Django's parser only calls read()
                media_type,
                parser_context,
            )
        except ParseError:
            raise broken from None
        if not watched.closed:
            # Django's parser has read everything (it always does) without the closing
            # delimiter: the body was cut short.
            raise broken
        return parsed


# A view may name DRF's parsers to narrow the media types it reads; the body is read by these.
READERS: dict[type[parsers.BaseParser], type[parsers.BaseParser]] = {
    parsers.JSONParser: JSONParser,
    parsers.FormParser: FormParser,
    parsers.MultiPartParser: MultiPartParser,
}
