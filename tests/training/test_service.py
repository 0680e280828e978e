"""Training service: certificates on passing, expiry and refresher lists, ID numbers never stored raw, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from citybrain.auth import service as auth_service
from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, Forbidden, Invalid
from citybrain.training import service
from citybrain.training.models import TrainingAttendance, TrainingCertificate, TrainingCourse
from tests.training.conftest import KEY

ID_A = "310104199001011234"


def new_session(s, clock, world, course="ENT-HAZMAT", capacity=10, principal=None):
    return service.create_session(session=s, now=clock.now(), principal=principal or world.trainer,
                                  course_code=course, starts_at=clock.now(), place="徐汇区应急管理局培训室",
                                  trainer="王老师", capacity=capacity)


def employee(world, name="张伟", id_number=ID_A, ent=None):
    return service.Person(enterprise_id=ent or world.ent_a, name=name, id_number=id_number)


def test_seed_adds_the_starter_courses_once(database, clock, world):
    with database.session() as s:
        codes = set(s.scalars(sa.select(TrainingCourse.code)))
        assert {"STAFF-EMERG-BASIC", "ENT-SAFETY-ANNUAL", "ENT-HAZMAT"} <= codes
        assert service.seed(session=s, now=clock.now()) == 0
        course = service.get_course_or_raise(session=s, code="ENT-HAZMAT")
        assert service.course_dict(course)["refresher"] == "365d"
        assert service.course_dict(course)["articles"][0]["url"] == "/public/articles/hazmat-shelter"


def test_passing_issues_one_certificate_that_expires_after_the_refresher_interval(database, clock, world):
    with database.session() as s:
        ts = new_session(s, clock, world)
        first = service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                        person=employee(world), score=86, passed=True, key=KEY)
        assert first.issued and first.certificate.expires_at == clock.now() + timedelta(days=365)
        assert first.certificate.number.startswith("CBT-20261130-")
        again = service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                        person=employee(world, id_number="3101 0419 9001 0112 34"), score=90,
                                        passed=True, key=KEY)
        assert not again.issued and again.certificate.number == first.certificate.number  # same person, same row
        with pytest.raises(Conflict):
            service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                    person=employee(world), passed=False, key=KEY)
        with pytest.raises(Invalid) as err:
            service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                    person=employee(world, name="李娜", id_number="12"), key=KEY, field="body[3]")
        assert err.value.errors[0].field == "body[3].id_number"
        with pytest.raises(Invalid):
            service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                    person=employee(world, name="李娜", id_number="310104199202022222"),
                                    attended=False, passed=True, key=KEY)
        stored = [str(v) for row in s.execute(sa.select(TrainingAttendance)).all() for v in vars(row[0]).values()]
        assert not any(ID_A in v for v in stored)  # the ID number itself is nowhere in the row


def test_capacity_and_organiser(database, clock, world):
    with database.session() as s:
        ts = new_session(s, clock, world, capacity=1)
        service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                person=employee(world), key=KEY)
        with pytest.raises(Conflict):
            service.mark_attendance(session=s, now=clock.now(), principal=world.trainer, training_session=ts,
                                    person=employee(world, name="李娜", id_number="310104199202022222"), key=KEY)
        other = Principal(user_id=2, username="pol", roles=("dept_admin",), department_id=world.police)
        with pytest.raises(Forbidden):
            service.mark_attendance(session=s, now=clock.now(), principal=other, training_session=ts,
                                    person=employee(world), key=KEY)


def test_overdue_lists_expired_and_expiring_latest_certificates_in_scope(database, clock, world):
    start = clock.now()
    with database.session() as s:
        user = auth_service.create(session=s, now=start, username="staff1", password="pw-staff1-123",
                                   roles=["dispatcher"], department_id=world.fire, display_name="赵敏")
        ts = new_session(s, clock, world)
        for person in (employee(world), employee(world, name="陈晨", id_number="310104198805055555", ent=world.ent_b)):
            service.mark_attendance(session=s, now=start, principal=world.trainer, training_session=ts,
                                    person=person, passed=True, key=KEY)
        basic = new_session(s, clock, world, course="STAFF-EMERG-BASIC")
        service.mark_attendance(session=s, now=start, principal=world.trainer, training_session=basic,
                                person=service.Person(user_id=user.id), passed=True, key=KEY)
        city = Principal(user_id=9, username="ops", roles=("duty_officer",), department_id=None)
        assert service.overdue(session=s, principal=city, now=start) == []
        later = start + timedelta(days=350)
        rows = service.overdue(session=s, principal=city, now=later)
        assert {(r["person_name"], r["status"], r["days_left"]) for r in rows} == {
            ("张伟", "expiring", 15), ("陈晨", "expiring", 15), ("赵敏", "expiring", 15)}
        officer_a = Principal(user_id=10, username="eo", roles=("enterprise_officer",), enterprise_id=world.ent_a)
        assert [r["person_name"] for r in service.overdue(session=s, principal=officer_a, now=later)] == ["张伟"]
        police = Principal(user_id=11, username="p", roles=("dispatcher",), department_id=world.police)
        assert service.overdue(session=s, principal=police, now=later) == []
        # 张伟 renews a year later; 陈晨 does not.
        renew_at = start + timedelta(days=400)
        clock.set(renew_at)
        ts2 = new_session(s, clock, world)
        service.mark_attendance(session=s, now=renew_at, principal=world.trainer, training_session=ts2,
                                person=employee(world), passed=True, key=KEY)
        rows = service.overdue(session=s, principal=city, now=renew_at, course_code="ENT-HAZMAT")
        assert [(r["person_name"], r["status"]) for r in rows] == [("陈晨", "expired")]
        certs, total = service.list_certificates(session=s, principal=officer_a, now=renew_at)
        assert total == 2 and {c.person_name for c in certs} == {"张伟"}
        assert {service.certificate_status(c, renew_at) for c in certs} == {"valid", "expired"}
        latest = s.scalars(sa.select(TrainingCertificate).order_by(TrainingCertificate.id.desc())).first()
        check = service.verify(session=s, now=renew_at, number=latest.number.lower())
        assert check["valid"] and check["holder"] == "张*" and check["course"] == "ENT-HAZMAT"


def test_id_hash_key_is_made_once_kept_private_and_derived(tmp_path):
    class S:
        data_dir = tmp_path
        secret_key = None

    key = service.id_hash_key(S())
    assert len(key) == 32 and service.id_hash_key(S()) == key
    assert (tmp_path / "secrets" / "app.key").stat().st_mode & 0o077 == 0

    class Configured(S):
        secret_key = "a deployment secret of some length 0123456789"

    assert service.id_hash_key(Configured()) not in (key, Configured.secret_key.encode())
