"""IAM virtual MFA devices with the unmodified aws CLI and boto3, checked with real TOTP
codes (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) computed here on the server's
business clock."""

import base64
import datetime
import hashlib
import hmac
import json
import struct

import botocore.exceptions
import pytest

from conftest import ACCOUNT, admin, client

# A step boundary plus one second: codes of this step stay current for 29 seconds, and the
# server accepts one step either side anyway.
T0 = datetime.datetime(2030, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)
STEP0 = int(T0.timestamp()) // 30


def totp(seed_b32, step):
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def test_totp_helper_matches_rfc6238():
    seed = base64.b32encode(b"12345678901234567890").decode()
    assert totp(seed, 59 // 30) == "287082"  # RFC 6238 SHA1 at T=59, last 6 digits
    assert totp(seed, 1111111109 // 30) == "081804"


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


@pytest.fixture()
def iam(endpoint):
    status, _ = admin(endpoint, "/_palisade/clock", {"set": T0.isoformat().replace("+00:00", "Z")})
    assert status == 200
    return client(endpoint, "iam")


def new_device(iam, name="alex-phone", path=None):
    kwargs = {"VirtualMFADeviceName": name}
    if path:
        kwargs["Path"] = path
    dev = iam.create_virtual_mfa_device(**kwargs)["VirtualMFADevice"]
    return dev["SerialNumber"], dev["Base32StringSeed"].decode()


def test_create_virtual_mfa_device_returns_seed_and_png(iam):
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName="alex-phone", Path="/pettracker/")[
        "VirtualMFADevice"
    ]
    assert dev["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/pettracker/alex-phone"
    seed = dev["Base32StringSeed"].decode()
    assert len(seed) == 64
    assert len(base64.b32decode(seed)) == 40
    png = dev["QRCodePNG"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"IHDR" in png[:32] and b"IEND" in png[-16:]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="alex-phone", Path="/pettracker/")
    assert err(e)[0] == "EntityAlreadyExists"
    listed = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    assert [d["SerialNumber"] for d in listed] == [dev["SerialNumber"]]
    # The seed is shown once only.
    assert "Base32StringSeed" not in listed[0] and "QRCodePNG" not in listed[0]


def test_cli_create_virtual_mfa_device_outfile(aws_cli, iam, tmp_path):
    out = tmp_path / "qr.png"
    rc, stdout, stderr = aws_cli(
        "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "maya-phone",
        "--outfile", str(out), "--bootstrap-method", "QRCodePNG",
    )
    assert rc == 0, stderr
    assert json.loads(stdout)["VirtualMFADevice"]["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/maya-phone"
    assert out.read_bytes().startswith(b"\x89PNG")
    seed_file = tmp_path / "seed.txt"
    rc, _, stderr = aws_cli(
        "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "sam-phone",
        "--outfile", str(seed_file), "--bootstrap-method", "Base32StringSeed",
    )
    assert rc == 0, stderr
    assert len(base64.b32decode(seed_file.read_text().strip())) == 40


def test_enable_with_two_consecutive_real_codes(aws_cli, iam):
    iam.create_user(UserName="alex")
    serial, seed = new_device(iam)

    bad = [
        ("000000", "000000"),  # wrong
        (totp(seed, STEP0), totp(seed, STEP0 - 1)),  # right codes, wrong order
        (totp(seed, STEP0 - 20), totp(seed, STEP0 - 19)),  # old
        (totp(seed, STEP0 + 5), totp(seed, STEP0 + 6)),  # from the future
        (totp(seed, STEP0 - 1), totp(seed, STEP0 + 1)),  # not consecutive
    ]
    for c1, c2 in bad:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.enable_mfa_device(UserName="alex", SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
        assert err(e) == ("InvalidAuthenticationCode", "Authentication code for device is not valid.")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert iam.list_mfa_devices(UserName="alex")["MFADevices"] == []

    iam.enable_mfa_device(
        UserName="alex", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0),
    )

    # The seed's quick-reference command, as printed.
    rc, out, stderr = aws_cli("iam", "list-mfa-devices", "--user-name", "alex")
    assert rc == 0, stderr
    devices = json.loads(out)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("alex", serial)]
    assert devices[0]["EnableDate"].startswith("2030-01-01T00:00")
    rc, out, _ = aws_cli(
        "iam", "list-mfa-devices", "--user-name", "alex", "--query", "MFADevices[0].SerialNumber", "--output", "text"
    )
    assert rc == 0 and out.strip() == serial

    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [d["SerialNumber"] for d in assigned] == [serial]
    assert assigned[0]["User"]["UserName"] == "alex"
    assert iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"] == []

    # Enabled devices hold the user and the device.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="alex")
    assert err(e)[0] == "DeleteConflict"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert err(e)[0] == "DeleteConflict"
    # One device, one user.
    iam.create_user(UserName="maya")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(
            UserName="maya", SerialNumber=serial,
            AuthenticationCode1=totp(seed, STEP0), AuthenticationCode2=totp(seed, STEP0 + 1),
        )
    assert err(e)[0] == "EntityAlreadyExists"

    iam.deactivate_mfa_device(UserName="alex", SerialNumber=serial)
    assert iam.list_mfa_devices(UserName="alex")["MFADevices"] == []
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    iam.delete_user(UserName="alex")


def test_codes_work_once(endpoint, iam):
    iam.create_user(UserName="sam")
    serial, seed = new_device(iam, "sam-phone")
    codes = dict(AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0))
    iam.enable_mfa_device(UserName="sam", SerialNumber=serial, **codes)
    # The same codes again (resync, or re-enable after deactivation) are refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.resync_mfa_device(UserName="sam", SerialNumber=serial, **codes)
    assert err(e)[0] == "InvalidAuthenticationCode"
    iam.deactivate_mfa_device(UserName="sam", SerialNumber=serial)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(UserName="sam", SerialNumber=serial, **codes)
    assert err(e)[0] == "InvalidAuthenticationCode"

    # A minute later, fresh codes work.
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 60})
    assert status == 200
    iam.enable_mfa_device(
        UserName="sam", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 + 1), AuthenticationCode2=totp(seed, STEP0 + 2),
    )
    assert len(iam.list_mfa_devices(UserName="sam")["MFADevices"]) == 1


def test_resync_learns_device_drift(iam):
    iam.create_user(UserName="jordan")
    serial, seed = new_device(iam, "jordan-phone")
    iam.enable_mfa_device(
        UserName="jordan", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0),
    )
    # The device's clock runs five minutes fast: resync with its codes.
    iam.resync_mfa_device(
        UserName="jordan", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 + 9), AuthenticationCode2=totp(seed, STEP0 + 10),
    )
    # Far-off codes are refused even by resync.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.resync_mfa_device(
            UserName="jordan", SerialNumber=serial,
            AuthenticationCode1=totp(seed, STEP0 + 200), AuthenticationCode2=totp(seed, STEP0 + 201),
        )
    assert err(e)[0] == "InvalidAuthenticationCode"
    # Resync of a device the user does not have.
    iam.create_user(UserName="other")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.resync_mfa_device(
            UserName="other", SerialNumber=serial,
            AuthenticationCode1=totp(seed, STEP0 + 11), AuthenticationCode2=totp(seed, STEP0 + 12),
        )
    assert err(e)[0] == "NoSuchEntity"


def test_mfa_errors(iam):
    iam.create_user(UserName="alex")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(
            UserName="alex", SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/nope",
            AuthenticationCode1="123456", AuthenticationCode2="234567",
        )
    assert err(e)[0] == "NoSuchEntity"
    serial, seed = new_device(iam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(
            UserName="ghost", SerialNumber=serial,
            AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0),
        )
    assert err(e) == ("NoSuchEntity", "The user with name ghost cannot be found.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="bad name!")
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="x", Path="no-slashes")
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.deactivate_mfa_device(UserName="alex", SerialNumber=serial)
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/nope")
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_mfa_devices(UserName="ghost")
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_virtual_mfa_devices(AssignmentStatus="Sometimes")
    assert err(e)[0] == "ValidationError"
    # Nothing was half-made by the failures above.
    assert [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]] == [serial]


def test_seed_mfa_status_loop(aws_cli, iam):
    """The seed's 'Check MFA status for all users' loop, command by command."""
    for name in ("alex", "maya"):
        iam.create_user(UserName=name)
    serial, seed = new_device(iam, "alex")
    iam.enable_mfa_device(
        UserName="alex", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0),
    )
    rc, out, _ = aws_cli("iam", "list-users", "--query", "Users[*].UserName", "--output", "text")
    assert rc == 0
    result = {}
    for user in out.split():
        rc, mfa, stderr = aws_cli(
            "iam", "list-mfa-devices", "--user-name", user, "--query", "MFADevices[0].SerialNumber", "--output", "text"
        )
        assert rc == 0, stderr
        result[user] = mfa.strip()
    assert result == {"alex": serial, "maya": "None"}


def session_token_user(endpoint, iam, name):
    """A user with a (not yet enabled) virtual MFA device, allowed GetSessionToken:
    (serial, seed, its STS client)."""
    iam.create_user(UserName=name)
    serial, seed = new_device(iam, f"{name}-phone")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="sts", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetSessionToken", "Resource": "*"}]}))
    return serial, seed, client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])


def test_codes_from_a_real_authenticator_work_after_the_business_clock_moved(endpoint, iam):
    """AWS has only real time: an authenticator app's code (wall clock) keeps working while
    the business clock is set elsewhere (here 2030), for EnableMFADevice and STS; codes
    for the business time work too, and each works once on its clock."""
    import time

    serial, seed, sts = session_token_user(endpoint, iam, "wall")

    def wall_step():
        # Stay clear of a step boundary so the pair below is current when it arrives.
        while time.time() % 30 > 25:
            time.sleep(0.5)
        return int(time.time()) // 30

    w = wall_step()
    iam.enable_mfa_device(UserName="wall", SerialNumber=serial,
                          AuthenticationCode1=totp(seed, w - 1), AuthenticationCode2=totp(seed, w))
    w = wall_step()
    code = totp(seed, w + 1)
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=code)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # A code for the business clock's time works as well.
    assert sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, STEP0 + 1))["Credentials"]
    # Far from both clocks: refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, STEP0 + 500))
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_a_code_works_once_whichever_clock_it_is_current_on(endpoint, iam):
    """A step accepted on one clock is refused on the other (the business clock moved back
    over it), and codes used by EnableMFADevice or ResyncMFADevice are refused by STS."""
    import time

    while time.time() % 30 > 15:  # the whole test within one 30-second step
        time.sleep(0.5)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    assert admin(endpoint, "/_palisade/clock", {"set": now.isoformat().replace("+00:00", "Z")})[0] == 200
    w = int(time.time()) // 30
    serial, seed, sts = session_token_user(endpoint, iam, "once")

    def refused(step):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step))
        assert e.value.response["Error"]["Code"] == "AccessDenied", step

    iam.enable_mfa_device(UserName="once", SerialNumber=serial,
                          AuthenticationCode1=totp(seed, w - 1), AuthenticationCode2=totp(seed, w))
    refused(w)
    # Business time 90 s ahead: step w+1 is current on the wall clock only.
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 90})[0] == 200
    sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, w + 1))
    # Back again: w+1 is current on the business clock now, and still used.
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": -90})[0] == 200
    refused(w + 1)
    # Codes ResyncMFADevice took are used too.
    iam.resync_mfa_device(UserName="once", SerialNumber=serial,
                          AuthenticationCode1=totp(seed, w + 2), AuthenticationCode2=totp(seed, w + 3))
    refused(w + 3)


def test_a_renamed_user_keeps_its_mfa_device(iam):
    iam.create_user(UserName="alex")
    serial, seed = new_device(iam)
    iam.enable_mfa_device(
        UserName="alex", SerialNumber=serial,
        AuthenticationCode1=totp(seed, STEP0 - 1), AuthenticationCode2=totp(seed, STEP0),
    )
    iam.update_user(UserName="alex", NewUserName="alexandra")
    devices = iam.list_mfa_devices(UserName="alexandra")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("alexandra", serial)]
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [d["User"]["UserName"] for d in listed] == ["alexandra"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="alexandra")
    assert err(e)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName="alexandra", SerialNumber=serial)
    iam.delete_user(UserName="alexandra")
