"""The teacher's unlock token: signed with a key from the passphrase, expiring, worthless under another passphrase."""

from lab.runs.teacher_token import TOKEN_SECONDS, make_token, token_valid

PASSPHRASE = "correct horse battery"


def test_a_token_unlocks_until_it_expires_and_never_contains_the_passphrase():
    token = make_token(PASSPHRASE, now=1_000.0)
    assert PASSPHRASE not in token and "horse" not in token
    assert token_valid(token, PASSPHRASE, now=1_000.0 + TOKEN_SECONDS - 1)
    assert not token_valid(token, PASSPHRASE, now=1_000.0 + TOKEN_SECONDS)


def test_a_token_is_worthless_altered_or_under_another_passphrase():
    token = make_token(PASSPHRASE, now=1_000.0)
    expiry, signature = token.split(".")
    assert not token_valid(token, "another passphrase", now=1_000.0)
    assert not token_valid(f"{int(expiry) + 10**6}.{signature}", PASSPHRASE, now=1_000.0)  # a later expiry
    assert not token_valid(f"{expiry}.{'0' * len(signature)}", PASSPHRASE, now=1_000.0)
    for junk in ("", None, "abc", ".", "1.2.3", "9" * 40 + ".x"):
        assert not token_valid(junk, PASSPHRASE, now=1_000.0)
    assert not token_valid(make_token("", now=1_000.0), "", now=1_000.0)  # no passphrase: nothing unlocks
