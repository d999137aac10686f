"""The municipality's central certificate service: an island's CSR answered by ACME, DNS-01 on its own zone.

The island keeps its private key; it sends a certificate signing request. The municipality
checks the names are its own, asks the public CA by ACME (certbot's `acme` library) and proves
control of the names with DNS-01 records in the zone it is authoritative for (here: the simulated
internet's DNS, answered from `ChallengeRecords`). No key crosses the network, and no island
needs the zone's credentials.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from acme import challenges, client, messages
from acme.crypto_util import get_identifiers_from_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

log = logging.getLogger("upstream.acme")

ISSUE_TIMEOUT = timedelta(seconds=60)


class ChallengeRecords:
    """TXT records the outside DNS answers for `_acme-challenge.` names while an order is validated."""

    def __init__(self) -> None:
        self._records: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, value: str) -> None:
        with self._lock:
            self._records.setdefault(_key(name), []).append(value)

    def remove(self, name: str, value: str) -> None:
        with self._lock:
            values = self._records.get(_key(name), [])
            if value in values:
                values.remove(value)
            if not values:
                self._records.pop(_key(name), None)

    def get(self, name: str) -> list[str]:
        with self._lock:
            return list(self._records.get(_key(name), ()))


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class IssueRefused(ValueError):
    """A request the central service will not sign (names outside the municipality's zone, a bad CSR)."""


class CentralIssuer:
    """Issues certificates for names under ``zone`` from the ACME CA at ``directory``."""

    def __init__(self, directory: str, ca_bundle: Path, zone: str, records: ChallengeRecords) -> None:
        self.directory, self.ca_bundle, self.zone, self.records = directory, ca_bundle, zone, records
        self._acme: client.ClientV2 | None = None
        self._lock = threading.Lock()  # one order at a time; the ACME account is shared

    def _client(self) -> client.ClientV2:
        if self._acme is None:
            key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
            # verify_ssl is handed to requests as `verify`, which takes a CA file (Pebble's HTTPS port).
            net = client.ClientNetwork(
                key,
                alg=ES256,
                user_agent="odrift-municipality",
                verify_ssl=str(self.ca_bundle),  # type: ignore[arg-type]
            )
            net.session.trust_env = False  # straight to the CA: an environment's proxy is not for it
            directory = client.ClientV2.get_directory(self.directory, net)
            acme = client.ClientV2(directory, net)
            acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
            self._acme = acme
        return self._acme

    def names_of(self, csr_pem: bytes) -> list[str]:
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise IssueRefused("not a PEM certificate signing request") from exc
        if not csr.is_signature_valid:
            raise IssueRefused("the request's signature does not verify")
        # Every identifier the ACME order will carry (the subject's CN too, and IP addresses): the same
        # function the client library orders with, so nothing outside what is checked here gets signed.
        names, addresses = get_identifiers_from_x509(csr.subject, csr.extensions)
        if addresses:
            raise IssueRefused(f"only DNS names are signed here, not the addresses {addresses}")
        outside = [n for n in names if not (n == self.zone or n.endswith("." + self.zone))]
        if not names or outside:
            raise IssueRefused(f"only names under {self.zone} are signed here, not {outside or names}")
        return names

    def issue(self, csr_pem: bytes) -> bytes:
        """The full chain (PEM) for ``csr_pem``; blocking (ACME over HTTPS), so run it in a thread."""
        names = self.names_of(csr_pem)
        with self._lock:
            acme = self._client()
            order = acme.new_order(csr_pem)
            published: list[tuple[str, str]] = []
            try:
                for authorization in order.authorizations:
                    if authorization.body.status == messages.STATUS_VALID:
                        continue  # validated for an earlier order of this account (ACME reuses it)
                    challenge = next(
                        c for c in authorization.body.challenges if isinstance(c.chall, challenges.DNS01)
                    )
                    response, validation = challenge.response_and_validation(acme.net.key)
                    record = challenge.chall.validation_domain_name(authorization.body.identifier.value)
                    self.records.add(record, validation)
                    published.append((record, validation))
                    acme.answer_challenge(challenge, response)
                order = acme.poll_and_finalize(order, datetime.now() + ISSUE_TIMEOUT)
            finally:
                for record, validation in published:
                    self.records.remove(record, validation)
        log.info("issued a certificate for %s", ", ".join(names))
        return str(order.fullchain_pem).encode("ascii")
