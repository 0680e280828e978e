"""Reports stored and read: the schema matches the models, submit checks and stores, contact details are kept
only when given and masked for everyone but the handling officer, history is append-only, keys are hashed,
challenges are single use."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
import sqlalchemy as sa

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Invalid
from citybrain.core.files import FileStore
from citybrain.core.ids import hash_token
from citybrain.org.service import department_ids
from citybrain.report import service, staff
from citybrain.report import services_catalog as catalog
from citybrain.report.models import CitizenReport, ReportApiKey, ReportEvent, ReportFlag
from tests.report import png_with_gps, submission

MY_TABLES = {"citizen_report", "report_photo", "report_event", "report_flag", "report_api_key", "report_challenge"}


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "files")


def test_the_migrated_schema_matches_the_models(database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from citybrain.models import metadata

    def mine(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in MY_TABLES

    with database.engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # PostGIS geometry columns of other tables
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": mine}), metadata)
    assert diff == []


def test_the_catalogue_has_the_safety_categories_with_radii_and_attributes() -> None:
    codes = {s.code: s for s in service.services()}
    assert {"gas_smell", "fire_hazard", "road_collapse", "manhole_missing", "waterlogging", "construction_site",
            "hazardous_chemicals", "crowding", "exposed_wiring", "structural_crack", "other"} == set(codes)
    assert codes["manhole_missing"].duplicate_radius_m == 50 and codes["gas_smell"].duplicate_radius_m == 200
    assert codes["waterlogging"].duplicate_radius_m == 300 and codes["crowding"].duplicate_radius_m == 300
    assert codes["gas_smell"].name_zh == "燃气异味" and codes["gas_smell"].metadata
    assert [a.code for a in codes["gas_smell"].attributes] == ["smell_strength", "indoors"]
    assert all(s.time_limit_h > 0 for s in codes.values())
    with pytest.raises(Invalid) as exc:
        catalog.check_attributes(codes["gas_smell"], {"smell_strength": "boiling", "colour": "x"})
    assert {e.field for e in exc.value.errors} == {"attribute[smell_strength]", "attribute[colour]"}
    with pytest.raises(Invalid) as exc:
        catalog.check_attributes(codes["manhole_missing"], {})
    assert [e.field for e in exc.value.errors] == ["attribute[traffic_lane]"]
    assert catalog.check_attributes(codes["manhole_missing"], {}, enforce_required=False) == {}


def test_submit_stores_the_report_and_no_contact_details_if_anonymous(session, clock, store) -> None:
    done = service.submit(session=session, now=clock.now(), store=store,
                          sub=submission(contact_phone="13812345678", contact_name="张三",
                                         attributes={"traffic_lane": "true"}))
    r = done.report
    assert r.id and r.service_request_id == f"SR-20261130-{r.id:06d}"
    assert len(r.tracking_code) >= 20 and r.token and r.tracking_code != r.token
    assert r.district_code == "310101" and r.location_source == "device"
    assert r.contact_phone == "13812345678" and not r.anonymous and r.moderation_status == "ok"
    assert r.due_at is not None and r.due_at <= clock.now() + timedelta(hours=4)
    assert r.attributes == {"traffic_lane": "true"}
    kinds = [e.kind for e in service.events(session=session, report=r)]
    assert kinds[0] == "submitted"
    assert service.get_by_tracking_code_or_raise(session=session, tracking_code=r.tracking_code) is r
    assert service.get_or_raise(session=session, report_id=r.id) is r
    anonymous = service.submit(session=session, now=clock.now(), store=store,
                               sub=submission(anonymous=True, contact_phone="13812345678", contact_email="a@b.cn",
                                              lon=121.40, lat=31.20))
    assert anonymous.report.contact_phone is None and anonymous.report.contact_email is None


def test_bad_input_names_the_field_and_stores_nothing(session, clock, store) -> None:
    cases = [
        (submission(service_code="unicorns"), "service_code"),
        (submission(description="x" * 2001), "description"),
        (submission(contact_phone="call me"), "contact_phone"),
        (submission(lon=None, lat=None), "lat"),
        (submission(photos=[b"not an image"]), "photos[0]"),
        (submission(photos=[png_with_gps()] * 4), "photos"),
    ]
    for sub, field in cases:
        with pytest.raises(Invalid) as exc:
            service.submit(session=session, now=clock.now(), store=store, sub=sub)
        assert field in [e.field for e in exc.value.errors], field
    assert session.scalar(sa.select(sa.func.count()).select_from(CitizenReport)) == 0
    assert not (store.root.exists() and any(store.root.rglob("*.jpg")))


def test_a_photo_gives_the_position_when_the_phone_sent_none(session, clock, store) -> None:
    done = service.submit(session=session, now=clock.now(), store=store,
                          sub=submission(lon=None, lat=None, photos=[png_with_gps(121.48, 31.235)]))
    r = done.report
    assert (round(r.lon, 4), round(r.lat, 4), r.location_source) == (121.48, 31.235, "photo")
    data, ctype = service.photo_bytes(session=session, store=store, report=r, ordinal=1)
    assert ctype == "image/jpeg" and b"SecretPhone" not in data and b"Exif" not in data


def test_content_that_needs_a_person_is_kept_but_held(session, clock, store, monkeypatch) -> None:
    handed: list[int] = []
    import citybrain.report.case_service as cases

    monkeypatch.setattr(cases, "on_submitted", lambda *, session, report, now: handed.append(report.id))
    spam = service.submit(session=session, now=clock.now(), store=store,
                          sub=submission(description="便宜贷款 加微信 http://spam.example"))
    ok = service.submit(session=session, now=clock.now(), store=store,
                        sub=submission(service_code="waterlogging", description="下穿通道积水很深"))
    assert spam.report.moderation_status == "flagged" and set(spam.flags) == {"link", "spam"}
    assert handed == [ok.report.id]  # the held one is not handed to the cases yet
    flags = session.scalars(sa.select(ReportFlag).where(ReportFlag.report_id == spam.report.id)).all()
    assert {f.reason for f in flags} == {"link", "spam"}
    admin = Principal(user_id=1, username="mod", roles=("duty_officer",))
    for f in flags:
        staff.resolve_flag(session=session, now=clock.now(), principal=admin, flag_id=f.id, action="approve")
    assert spam.report.moderation_status == "approved" and handed == [ok.report.id, spam.report.id]


def test_the_same_text_again_from_one_client_is_flagged(session, clock, store) -> None:
    text = "南京西路100号工地围挡倒了很危险"
    first = service.submit(session=session, now=clock.now(), store=store,
                           sub=submission(service_code="construction_site", description=text))
    again = service.submit(session=session, now=clock.now(), store=store,
                           sub=submission(service_code="construction_site", description=text, lon=121.40, lat=31.20))
    other = service.submit(session=session, now=clock.now(), store=store,
                           sub=submission(service_code="construction_site", description=text, lon=121.30,
                                          lat=31.10, client_key="client-b"))
    assert first.flags == () and again.flags == ("repeated_text",) and other.flags == ()


def test_history_is_append_only(session, clock, store) -> None:
    r = service.submit(session=session, now=clock.now(), store=store, sub=submission()).report
    session.commit()
    with pytest.raises(sa.exc.DBAPIError):
        session.execute(sa.update(ReportEvent).where(ReportEvent.report_id == r.id).values(text="rewritten"))
        session.flush()
    session.rollback()
    with pytest.raises(sa.exc.DBAPIError):
        session.execute(sa.delete(ReportEvent).where(ReportEvent.report_id == r.id))
        session.flush()
    session.rollback()


def test_contact_details_are_shown_only_to_the_handling_officer(session, clock, store) -> None:
    r = service.submit(session=session, now=clock.now(), store=store,
                       sub=submission(contact_phone="13812345678", contact_name="张三丰",
                                      contact_email="zhang@example.com")).report
    fire = department_ids(session=session)["fire"]
    admin_id = session.scalar(sa.text("SELECT min(id) FROM app_user"))
    r.department_id, r.assigned_user_id = fire, admin_id
    officer = Principal(user_id=admin_id, username="o", roles=("dispatcher",), department_id=fire)
    colleague = Principal(user_id=admin_id + 1, username="c", roles=("dispatcher",), department_id=fire)
    viewer = Principal(user_id=44, username="v", roles=("viewer",), department_id=fire)
    ops = Principal(user_id=45, username="d", roles=("duty_officer",))
    shown = staff.staff_dict(r, principal=officer, departments={})
    assert (shown["contact_phone"], shown["contact_name"], shown["contact_visible"]) == ("13812345678", "张三丰", True)
    assert staff.staff_dict(r, principal=colleague, departments={})["contact_phone"] == "13812345678"
    for p in (viewer, ops):
        masked = staff.staff_dict(r, principal=p, departments={})
        assert masked["contact_phone"] == "138****5678" and masked["contact_name"] == "张**"
        assert masked["contact_email"] == "z***@example.com" and masked["contact_visible"] is False
    assert staff.staff_dict(r, principal=officer, departments={}, unmasked=False)["contact_phone"] == "138****5678"
    assert service.mask_phone("13812345678") == "138****5678"


def test_department_scope_hides_other_departments_reports(session, clock, store) -> None:
    r = service.submit(session=session, now=clock.now(), store=store, sub=submission()).report
    ids = department_ids(session=session)
    r.department_id = ids["urban"]
    police = Principal(user_id=7, username="p", roles=("dispatcher",), department_id=ids["police"])
    urban = Principal(user_id=8, username="u", roles=("dispatcher",), department_id=ids["urban"])
    assert staff.list_reports(session=session, principal=police)[1] == 0
    assert staff.list_reports(session=session, principal=urban)[1] == 1


def test_api_keys_are_stored_hashed_and_challenges_are_spent_once(session, clock) -> None:
    row, key = service.create_api_key(session=session, now=clock.now(), name="partner app", owner="x")
    assert key.startswith("o311_") and row.key_hash == hash_token(key)
    assert session.scalar(sa.select(sa.func.count()).select_from(ReportApiKey).where(
        ReportApiKey.key_hash == key)) == 0
    assert service.api_key_for(session=session, key=key) is row
    assert service.api_key_for(session=session, key=key + "x") is None
    service.revoke_api_key(session=session, now=clock.now(), key_id=row.id)
    assert service.api_key_for(session=session, key=key) is None
    until = clock.now() + timedelta(minutes=10)
    service.spend_challenge(session=session, now=clock.now(), challenge="v1.4.1.abc.sig", expires_at=until)
    with pytest.raises(Invalid) as exc:
        service.spend_challenge(session=session, now=clock.now(), challenge="v1.4.1.abc.sig", expires_at=until)
    assert exc.value.errors[0].field == "challenge"
