"""OpenRosa 1.0 pieces that need no HTTP: safe submission parsing, mapping to a report, the
formList document and submission responses.

The HTTP layer (``tocsin.api.routers.openrosa``) serves ``GET /formList``
(:func:`form_list_xml`), the form download ``GET /forms/<id>/form.xml`` (:func:`shipped_forms`),
and ``POST /submission`` (multipart: ``xml_submission_file`` goes to
:func:`parse_submission`, every other part to :func:`check_attachment`), with the headers in
:data:`OPENROSA_HEADERS`.

XML is parsed with defusedxml: any DTD (so XXE and "billion laughs" entity expansion), entity
declaration or external reference is refused before expansion, with a clear error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from tocsin.domain.taxonomy import ActorKind, ActType, PocThreatCategory
from tocsin.intake.report import IntakeReport
from tocsin.security.vault import ContactDetails

OPENROSA_VERSION = "1.0"
MAX_SUBMISSION_XML_BYTES = 512 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
MAX_ELEMENTS = 2000
MAX_DEPTH = 16
MAX_TEXT_CHARS = 5000
INCIDENT_FORM_ID = "tocsin_incident_report"

OPENROSA_HEADERS = {
    "X-OpenRosa-Version": OPENROSA_VERSION,
    "X-OpenRosa-Accept-Content-Length": str(
        MAX_SUBMISSION_XML_BYTES + MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES
    ),
}

# Attachment types ODK Collect produces for our form, with their leading bytes.
ALLOWED_ATTACHMENTS: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_INSTANCE_ID = re.compile(r"^uuid:[0-9a-fA-F-]{36}$")


class SubmissionError(ValueError):
    """The submission is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Submission:
    form_id: str
    version: str | None
    instance_id: str
    fields: Mapping[str, str]  # leaf path below the root ("meta/instanceID") -> text

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value not in (None, "") else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(data: bytes, limit: int) -> Element:
    if not isinstance(data, bytes | bytearray):
        raise SubmissionError("XML must be bytes")
    if len(data) > limit:
        raise SubmissionError(f"XML larger than {limit} bytes", status=413)
    try:
        return fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise SubmissionError("XML with a DOCTYPE/DTD is not accepted (entity attacks)") from exc
    except EntitiesForbidden as exc:
        raise SubmissionError("XML entity declarations are not accepted") from exc
    except ExternalReferenceForbidden as exc:
        raise SubmissionError("XML external references are not accepted") from exc
    except ParseError as exc:
        raise SubmissionError(f"malformed XML: {exc}") from exc


def parse_submission(data: bytes) -> Submission:
    """Reads an ODK instance document; refuses hostile, oversized or malformed XML."""
    root = _parse_xml(data, MAX_SUBMISSION_XML_BYTES)
    form_id = root.get("id")
    if not form_id:
        raise SubmissionError("submission root has no form id attribute")
    fields: dict[str, str] = {}
    count = 0

    def walk(node: Element, path: str, depth: int) -> None:
        nonlocal count
        if depth > MAX_DEPTH:
            raise SubmissionError(f"submission nested deeper than {MAX_DEPTH} levels")
        for child in node:
            count += 1
            if count > MAX_ELEMENTS:
                raise SubmissionError(f"submission has more than {MAX_ELEMENTS} elements")
            name = _local(child.tag)
            child_path = f"{path}/{name}" if path else name
            if len(child):
                walk(child, child_path, depth + 1)
            else:
                if child_path in fields:
                    raise SubmissionError(f"field {child_path!r} appears more than once")
                text = (child.text or "").strip()
                if len(text) > MAX_TEXT_CHARS:
                    raise SubmissionError(f"field {child_path!r} is longer than {MAX_TEXT_CHARS}")
                fields[child_path] = text

    walk(root, "", 1)
    instance_id = fields.get("meta/instanceID", "")
    if not _INSTANCE_ID.match(instance_id):
        raise SubmissionError("submission has no valid meta/instanceID (uuid:...)")
    return Submission(
        form_id=form_id, version=root.get("version"), instance_id=instance_id, fields=fields
    )


def check_attachment(submission: Submission, filename: str, content_type: str, data: bytes) -> str:
    """Validates one multipart attachment; returns the safe file name to store it under.

    The name must be one the submission refers to (ODK puts the photo's file name in its
    field), the type must be an allowed image whose bytes start as that type does.
    """
    if not _SAFE_NAME.match(filename or "") or ".." in filename:
        raise SubmissionError("attachment file name is not allowed")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise SubmissionError(f"attachment larger than {MAX_ATTACHMENT_BYTES} bytes", status=413)
    spec = ALLOWED_ATTACHMENTS.get((content_type or "").split(";")[0].strip().lower())
    if spec is None:
        raise SubmissionError(f"attachment type {content_type!r} is not accepted", status=415)
    extensions, magics = spec
    if not filename.lower().endswith(extensions):
        raise SubmissionError("attachment extension does not match its type", status=415)
    if not any(data.startswith(m) for m in magics):
        raise SubmissionError("attachment content does not match its type", status=415)
    if filename not in set(submission.fields.values()):
        raise SubmissionError("attachment is not referenced by the submission")
    return filename


# -- mapping to a report ----------------------------------------------------------------------


def _int_field(sub: Submission, name: str) -> int | None:
    value = sub.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"\d{1,6}", value):
        raise SubmissionError(f"{name} must be a whole number between 0 and 999999")
    return int(value)


def _choice(sub: Submission, name: str, allowed: Iterable[str]) -> str | None:
    value = sub.get(name)
    if value is not None and value not in set(allowed):
        raise SubmissionError(f"{name} has an unknown value")
    return value


def report_from_submission(sub: Submission, *, received_at: datetime) -> IntakeReport:
    """Maps an incident-report instance to a report; every value is checked against the form."""
    if sub.form_id != INCIDENT_FORM_ID:
        raise SubmissionError(f"unknown form {sub.form_id!r}", status=404)
    occurred = sub.get("incident_date")
    occurred_on: date | None = None
    if occurred is not None:
        try:
            occurred_on = date.fromisoformat(occurred[:10])
        except ValueError as exc:
            raise SubmissionError("incident_date is not a date") from exc
        if occurred_on > received_at.date():
            raise SubmissionError("incident_date is in the future")
    lat = lon = accuracy = None
    point = sub.get("location")
    if point is not None:
        parts = point.split()
        try:
            lat, lon = float(parts[0]), float(parts[1])
            accuracy = float(parts[3]) if len(parts) > 3 else None
        except (IndexError, ValueError) as exc:
            raise SubmissionError("location is not a geopoint") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SubmissionError("location is out of range")
        if accuracy is not None and not (0 <= accuracy < 1e7):
            accuracy = None
    threat = _choice(sub, "threat", (t.value for t in PocThreatCategory))
    acts_text = sub.get("acts") or ""
    acts: list[ActType] = []
    for token in acts_text.split():
        try:
            acts.append(ActType(token))
        except ValueError as exc:
            raise SubmissionError("acts has an unknown value") from exc
    kind = _choice(sub, "perpetrator_kind", (k.value for k in ActorKind))
    children = _choice(sub, "children_involved", ("yes", "no", "unknown"))
    consent = _choice(sub, "contact_consent", ("yes", "no"))
    contact = None
    if consent == "yes" and (sub.get("contact_phone") or sub.get("contact_name")):
        contact = ContactDetails(phone=sub.get("contact_phone"), name=sub.get("contact_name"))
    photo = sub.get("photo")
    return IntakeReport(
        channel="odk",
        external_id=sub.instance_id,
        received_at=received_at,
        text=sub.get("description") or "",
        occurred_on=occurred_on,
        latitude=lat,
        longitude=lon,
        location_accuracy_m=accuracy,
        place_name=sub.get("place_name"),
        threat=PocThreatCategory(threat) if threat else None,
        act_types=tuple(dict.fromkeys(acts)),
        perpetrator_kind=ActorKind(kind) if kind else None,
        perpetrator_name=sub.get("perpetrator_name"),
        killed=_int_field(sub, "people_killed"),
        injured=_int_field(sub, "people_injured"),
        children_involved={"yes": True, "no": False}.get(children or ""),
        source_type=_choice(
            sub,
            "source_type",
            ("witness", "victim", "relative", "community_network", "media", "other"),
        ),
        attachments=(photo,) if photo else (),
        contact=contact,
    )


# -- forms ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormDescriptor:
    form_id: str
    version: str | None
    name: str
    xml: bytes = field(repr=False)

    @property
    def hash(self) -> str:
        """OpenRosa's form hash: ``md5:`` + hex digest of the form file."""
        return "md5:" + hashlib.md5(self.xml, usedforsecurity=False).hexdigest()

    @classmethod
    def from_xform(cls, xml: bytes) -> FormDescriptor:
        root = _parse_xml(xml, 4 * 1024 * 1024)
        title = next((el.text for el in root.iter() if _local(el.tag) == "title"), None)
        instance = next((el for el in root.iter() if _local(el.tag) == "instance"), None)
        data = next(iter(instance), None) if instance is not None else None
        if data is None or not data.get("id"):
            raise SubmissionError("XForm has no main instance with an id")
        return cls(
            form_id=data.get("id") or "",
            version=data.get("version"),
            name=(title or data.get("id") or "").strip(),
            xml=bytes(xml),
        )


def shipped_forms() -> dict[str, FormDescriptor]:
    """The forms packaged with Tocsin (src/tocsin/intake/forms/*.xml), by form id."""
    out: dict[str, FormDescriptor] = {}
    folder = resources.files("tocsin.intake").joinpath("forms")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".xml"):
            form = FormDescriptor.from_xform(entry.read_bytes())
            out[form.form_id] = form
    return out


def form_list_xml(forms: Iterable[FormDescriptor], base_url: str) -> bytes:
    """The OpenRosa 1.0 formList document (namespace http://openrosa.org/xforms/xformsList)."""
    root = Element("xforms", xmlns="http://openrosa.org/xforms/xformsList")
    base = base_url.rstrip("/")
    for form in forms:
        item = SubElement(root, "xform")
        SubElement(item, "formID").text = form.form_id
        SubElement(item, "name").text = form.name
        if form.version:
            SubElement(item, "version").text = form.version
        SubElement(item, "hash").text = form.hash
        SubElement(item, "downloadUrl").text = f"{base}/forms/{form.form_id}/form.xml"
    return tostring(root, encoding="utf-8", xml_declaration=True)


def submission_response_xml(message: str, *, nature: str = "submit_success") -> bytes:
    """The OpenRosa response body shown by ODK Collect after a submission."""
    root = Element("OpenRosaResponse", xmlns="http://openrosa.org/http/response")
    SubElement(root, "message", nature=nature).text = message
    return tostring(root, encoding="utf-8", xml_declaration=True)
