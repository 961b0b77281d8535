"""AWS KMS master keys, through boto3 (the AWS SDK for Python), as sops' ``kms/keysource.go``.

KMS wraps the 32-byte data key (``Encrypt``) and unwraps it (``Decrypt``); the
file's ``enc`` is base64 of the ``CiphertextBlob``, with the entry's encryption
context passed on both calls. As in sops, the region comes from the key's ARN,
a ``role`` is assumed through STS first (session name ``sops@HOSTNAME``, so a
trust policy written for sops holds for us too), and an entry's ``aws_profile``
picks the profile whose credentials are used.

Everything comes from the command's environment mapping, handed to boto3
explicitly, never through our own ``os.environ``: the credentials
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), the
profile (``AWS_PROFILE``), the endpoint (``AWS_ENDPOINT_URL_KMS``,
``AWS_ENDPOINT_URL_STS``, ``AWS_ENDPOINT_URL``) and the shared files
(``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``, else ``$HOME/.aws``).
Without them boto3's usual chain applies (SSO, web identity, container and
instance roles). boto3 takes a quarter of a second to import: only a file with
KMS keys pays for it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from typing import Any, Final

from secure_up.errors import UsageError
from secure_up.keys.interface import KeyContext, KeyKind, KeyUnavailable
from secure_up.sops.metadata import KmsKey, MasterKey

#: sops' pattern of a KMS key ARN; its first group is the region.
ARN_PATTERN: Final = re.compile(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$")
#: What sops strips from the host name in the STS session name. Its ``@-_`` is a
#: range (``@`` to ``_``), as in Go: a ``-`` is stripped too, and we must match.
_SESSION_NAME_STRIP: Final = re.compile(r"[^a-zA-Z0-9=,.@-_]+")
_SESSION_NAME_LIMIT: Final = 64
#: Seconds to wait for a connection: an endpoint that does not answer fails soon.
_CONNECT_TIMEOUT: Final = 10
_READ_TIMEOUT: Final = 60
_CREDENTIALS_HINT: Final = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
    "credentials), or AWS_PROFILE to a profile of ~/.aws/credentials or ~/.aws/config "
    "(`aws configure` or `aws sso login` writes one)"
)
#: How boto3 found the credentials (``Credentials.method``), said for people.
_SOURCES: Final = {
    "explicit": "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "env": "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "shared-credentials-file": "the credentials file",
    "config-file": "the config file",
    "assume-role": "a role the profile assumes",
    "sso": "AWS SSO (IAM Identity Center)",
    "login": "aws login",
    "custom-process": "the profile's credential_process",
    "assume-role-with-web-identity": "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "container-role": "the container's role (ECS/EKS)",
    "iam-role": "the EC2 instance's role",
}
#: Client errors that mean the credentials themselves were refused.
_REJECTED_CREDENTIALS: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


def parse_context(text: str, option: str = "--encryption-context") -> dict[str, str]:
    """An encryption context from sops' ``key:value,key:value`` form.

    sops drops a malformed context with a warning and encrypts without it; we refuse
    it, since the file would then open without the context the user asked for. A
    value may hold colons (an ARN), a comma cannot: it separates pairs.
    """
    context: dict[str, str] = {}
    for pair in filter(None, text.split(",")):
        name, colon, value = pair.partition(":")
        if not colon or not name:
            raise UsageError(
                f"{option} {text!r}: {pair!r} is not a key:value pair",
                "write the context as key:value pairs separated by commas, "
                "e.g. app:billing,env:prod",
            )
        context[name] = value
    return context


def recipient(arn: str, *, context: Mapping[str, str] | None = None, aws_profile: str = "") -> str:
    """A KMS recipient as sops' ``ToString`` writes it, from ``ARN[+ROLE]`` and its qualifiers."""
    return new_key(arn, context=context, aws_profile=aws_profile).identifier


def new_key(
    text: str, *, context: Mapping[str, str] | None = None, aws_profile: str = ""
) -> KmsKey:
    """A KMS entry from ``ARN[+ROLE][|CONTEXT[|PROFILE]]``, sops' ``ToString`` form.

    As sops, spaces are dropped and ``+arn:`` separates a role's ARN from the key's.
    """
    parts = text.replace(" ", "").split("|")
    if len(parts) > 3:
        raise UsageError(
            f"{text!r} is not a KMS key: expected ARN[+ROLE_ARN][|key:value,...[|PROFILE]]",
            "name the key by its ARN, e.g. arn:aws:kms:eu-west-1:111122223333:key/ID",
        )
    arn, _, role = parts[0].partition("+arn:")
    if not ARN_PATTERN.match(arn):
        raise UsageError(
            f"{arn!r} is not the ARN of an AWS KMS key",
            "use the key's full ARN, arn:aws:kms:REGION:ACCOUNT:key/ID (or alias/NAME), "
            "as `aws kms describe-key --key-id ID` shows it",
        )
    own_context = parse_context(parts[1], f"the context of {arn}") if len(parts) > 1 else {}
    profile = parts[2] if len(parts) > 2 else ""
    return KmsKey(
        arn=arn,
        role=f"arn:{role}" if role else "",
        context={**own_context, **(context or {})},
        aws_profile=profile or aws_profile,
    )


def session_name(hostname: str) -> str:
    """The STS role session name sops uses: ``sops@`` and the sanitised host name."""
    name = "sops@" + _SESSION_NAME_STRIP.sub("", hostname)
    return name[:_SESSION_NAME_LIMIT]


def _region(arn: str) -> str:
    match = ARN_PATTERN.match(arn)
    if match is None:
        raise KeyUnavailable(f"{arn!r} is not the ARN of an AWS KMS key")
    return match.group(1)


class KmsService:
    """The AWS KMS key service: one boto3 client per region, profile and role, made on need."""

    kind = "kms"

    def __init__(self, context: KeyContext) -> None:
        self._environ = context.environ
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}

    def __repr__(self) -> str:
        return f"KmsService(clients={len(self._clients)})"

    def open(self, key: MasterKey) -> bytes:
        assert isinstance(key, KmsKey)  # noqa: S101 - the registry routes only kms entries here
        try:
            blob = base64.b64decode(key.enc, validate=True)
        except (binascii.Error, ValueError):
            raise KeyUnavailable(
                "its wrapped data key is not base64: the file is damaged"
            ) from None
        response = self._call(key, "decrypt", CiphertextBlob=blob)
        plaintext: bytes = response["Plaintext"]
        return plaintext

    def wrap(self, key: MasterKey, data_key: bytes) -> None:
        assert isinstance(key, KmsKey)  # noqa: S101 - the registry routes only kms entries here
        response = self._call(key, "encrypt", Plaintext=data_key)
        key.enc = base64.b64encode(response["CiphertextBlob"]).decode("ascii")

    def identities(self) -> list[str]:
        """Where the credentials of each profile used so far come from; never the credentials."""
        profiles = list(self._sessions) or [self._default_profile()]
        return [source for profile in profiles if (source := self._credentials_source(profile))]

    def where(self) -> str:
        profile = self._default_profile() or "default"
        return (
            "AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, "
            f"profile {profile})"
        )

    # -- boto3 ------------------------------------------------------------------

    def _call(self, key: KmsKey, operation: str, **arguments: Any) -> dict[str, Any]:
        """One KMS call for ``key``; every failure becomes a reason a person can act on."""
        from botocore.exceptions import BotoCoreError, ClientError

        if key.context:
            arguments["EncryptionContext"] = dict(key.context)
        try:
            client = self._client(key)
            response: dict[str, Any] = getattr(client, operation)(KeyId=key.arn, **arguments)
        except ClientError as error:
            raise KeyUnavailable(self._client_failure(error, key)) from None
        except BotoCoreError as error:
            profile = key.aws_profile or self._default_profile()
            raise KeyUnavailable(_sdk_failure(error, profile)) from None
        return response

    def _client(self, key: KmsKey) -> Any:
        region = _region(key.arn)
        profile = key.aws_profile or self._default_profile()
        cache_key = (region, profile, key.role)
        if cache_key not in self._clients:
            if profile not in self._sessions:
                self._sessions[profile] = self._new_session(profile)
            session = self._sessions[profile]
            credentials: dict[str, str] = {}
            if key.role:
                credentials = self._assume_role(session, key.role, region)
            self._clients[cache_key] = session.client(
                "kms",
                region_name=region,
                endpoint_url=self._endpoint("KMS"),
                config=_client_config(),
                **credentials,
            )
        return self._clients[cache_key]

    def _assume_role(self, session: Any, role: str, region: str) -> dict[str, str]:
        from botocore.exceptions import ClientError

        sts = session.client(
            "sts", region_name=region, endpoint_url=self._endpoint("STS"), config=_client_config()
        )
        import socket  # only for roles: start-up stays lean

        name = session_name(socket.gethostname())
        try:
            answer = sts.assume_role(RoleArn=role, RoleSessionName=name)
        except ClientError as error:
            code, message = _code_and_message(error)
            raise KeyUnavailable(
                f"cannot assume the role {role}: {code}: {message}; fix: allow these "
                "credentials sts:AssumeRole on it (its trust policy)"
            ) from None
        granted = answer["Credentials"]
        return {
            "aws_access_key_id": granted["AccessKeyId"],
            "aws_secret_access_key": granted["SecretAccessKey"],
            "aws_session_token": granted["SessionToken"],
        }

    def _new_session(self, profile: str, *, offline: bool = False) -> Any:
        """A boto3 session from our environment mapping, for ``profile`` ("" for none).

        As the AWS SDK for Go that sops uses: a profile the entry names wins over
        the credential variables, which win over ``AWS_PROFILE`` (see
        :meth:`_default_profile`). ``offline`` leaves out the instance and
        container roles, which are asked over the network.
        """
        import boto3

        core = _botocore_session(self._environ)
        if profile:
            try:
                session = boto3.Session(botocore_session=core, profile_name=profile)
            except Exception as error:  # ProfileNotFound, a config file that does not parse
                raise KeyUnavailable(_sdk_failure(error, profile)) from None
        else:
            access_key = self._environ.get("AWS_ACCESS_KEY_ID", "")  # "" counts as unset
            secret_key = self._environ.get("AWS_SECRET_ACCESS_KEY", "")
            if bool(access_key) != bool(secret_key):
                missing = "AWS_SECRET_ACCESS_KEY" if access_key else "AWS_ACCESS_KEY_ID"
                raise KeyUnavailable(
                    f"the AWS credentials are incomplete: {missing} is not set; "
                    f"fix: {_CREDENTIALS_HINT}"
                )
            session = boto3.Session(
                botocore_session=core,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                aws_session_token=self._environ.get("AWS_SESSION_TOKEN") or None,
            )
        if offline:
            resolver = core.get_component("credential_provider")
            for name in ("iam-role", "container-role"):
                resolver.remove(name)
        return session

    def _default_profile(self) -> str:
        """The profile of credentials from the environment ("" when the variables hold them)."""
        if self._environ.get("AWS_ACCESS_KEY_ID") or self._environ.get("AWS_SECRET_ACCESS_KEY"):
            return ""
        return self._environ.get("AWS_PROFILE") or self._environ.get("AWS_DEFAULT_PROFILE") or ""

    def _endpoint(self, service: str) -> str | None:
        """``AWS_ENDPOINT_URL_<SERVICE>``, else ``AWS_ENDPOINT_URL``, as AWS SDKs read them."""
        ignore = self._environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true"
        if ignore:
            return None
        return (
            self._environ.get(f"AWS_ENDPOINT_URL_{service}")
            or self._environ.get("AWS_ENDPOINT_URL")
            or None
        )

    def _credentials_source(self, profile: str) -> str:
        """Where the credentials for ``profile`` come from, or "" when there are none."""
        try:
            credentials = self._new_session(profile, offline=True).get_credentials()
        except Exception:  # any failure here means "no usable credentials"
            return ""
        if credentials is None:
            return ""
        source = _SOURCES.get(credentials.method, credentials.method)
        if credentials.method in ("explicit", "env"):
            return f"from {source}"
        return f"profile {profile or 'default'}, from {source}"

    def _client_failure(self, error: Any, key: KmsKey) -> str:
        code, message = _code_and_message(error)
        who = f"the role {key.role}" if key.role else "these AWS credentials"
        if code in ("AccessDeniedException", "AccessDenied"):
            return (
                f"AWS KMS denied access ({message}); fix: grant {who} kms:Decrypt and "
                "kms:Encrypt on this key (key policy or IAM), or use credentials that have them"
            )
        if code == "NotFoundException":
            return (
                f"AWS KMS has no such key in {_region(key.arn)} ({message}); fix: check the ARN, "
                "and that the credentials belong to the key's account (or one it is shared with)"
            )
        if code == "InvalidCiphertextException":
            context = ", ".join(f"{k}:{v}" for k, v in sorted(key.context.items())) or "none"
            return (
                "AWS KMS refused the wrapped data key: it was not made with this key, or with "
                f"another encryption context (the file says: {context})"
            )
        if code in ("DisabledException", "KMSInvalidStateException"):
            return f"the KMS key cannot be used now ({message}); fix: enable the key in AWS KMS"
        if code in _REJECTED_CREDENTIALS:
            return (
                f"AWS refused the credentials ({code}): they are wrong or expired; "
                f"fix: {_CREDENTIALS_HINT}"
            )
        return f"AWS KMS answered {code}: {message}"


def _sdk_failure(error: BaseException, profile: str) -> str:
    from botocore.exceptions import (
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(error, NoCredentialsError):
        where = f"profile {profile}" if profile else "the environment or ~/.aws"
        return f"no AWS credentials found in {where}; fix: {_CREDENTIALS_HINT}"
    if isinstance(error, PartialCredentialsError):
        return (
            f"the AWS credentials of profile {profile or 'default'} are incomplete; "
            f"fix: {_CREDENTIALS_HINT}"
        )
    if isinstance(error, ProfileNotFound):
        return (
            f"the AWS profile {profile!r} is in neither the config nor the credentials file; "
            "fix: create it with `aws configure --profile NAME`, or correct aws_profile"
        )
    if isinstance(error, ConnectionError | HTTPClientError):
        # Their messages name the endpoint, never a parameter's value.
        return f"cannot reach AWS: {error}; fix: check the network and AWS_ENDPOINT_URL"
    # Other SDK errors may quote parameters, the data key among them: name only the kind.
    return f"the AWS SDK failed ({type(error).__name__})"


def _botocore_session(environ: Mapping[str, str]) -> Any:
    """A botocore session whose settings come from ``environ``, never from ``os.environ``.

    botocore reads its variables (AWS_PROFILE, AWS_CONFIG_FILE, AWS_CA_BUNDLE, retries,
    ...) through one provider chain each; we build the same chains over our mapping.
    """
    import botocore.session
    from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES, ConfigChainFactory

    # As the AWS SDKs: a variable set to "" counts as unset.
    variables = {name: value for name, value in environ.items() if value}
    home = variables.get("HOME") or os.path.expanduser("~")
    variables.setdefault("AWS_CONFIG_FILE", os.path.join(home, ".aws", "config"))
    variables.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.path.join(home, ".aws", "credentials"))
    core = botocore.session.Session()
    chains = ConfigChainFactory(session=core, environ=variables)
    store = core.get_component("config_store")
    for name, (option, env_names, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        chain = chains.create_config_chain(
            instance_name=name,
            env_var_names=env_names,
            config_property_names=option,
            default=default,
            conversion_func=convert,
        )
        store.set_config_provider(name, chain)
    return core


def _client_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=_CONNECT_TIMEOUT, read_timeout=_READ_TIMEOUT)


def _code_and_message(error: Any) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return str(details.get("Code", "unknown")), str(details.get("Message", "")).strip()


KIND: Final = KeyKind("kms", KmsService, new_key)
