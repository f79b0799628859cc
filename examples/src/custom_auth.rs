//! A company directory as the source of identity: [`DirectoryAuthenticator`], an
//! implementation of `chatcore::Authenticator` (the plug-in seam of the server's services).
//!
//! The directory is a static table of employees ([`EMPLOYEES`]), each holding an API key
//! the directory issued (40 hex characters, fresh at every start, kept only as SHA-256). A
//! client sends its key as an ordinary `Authorization: Token <key>`; the authenticator looks
//! the key up and, for an employee still with the company, provisions the local account
//! through `AuthService::provision` (created on the first request, found afterwards) and
//! returns that `Actor`. Every other credential falls through to the built-in authenticator:
//! local API tokens (so an admin made by trusted code, as the CLI's `createsuperuser` does,
//! logs in with a password as usual), Basic and browser sessions. A former employee's key
//! is refused outright.
//!
//! Decisions worth knowing before copying this:
//! - `provision` links the local account to the identity (`ISSUER`, employee number), never
//!   to an account by its name: an employee whose login name is taken locally (the
//!   directory's `admin` below, named like the chat's local admin) is refused with 403 and
//!   gets nothing. Registration must be closed (`Config::registration_open = false`), or a
//!   stranger could register `alice.martin` before Alice's first request and lock her out.
//!   Accounts come from the directory; admins from trusted code.
//! - Admin rights and deactivation stay local: the directory cannot mint an admin (`Actor`
//!   has private fields; `provision` creates ordinary users), an admin promotes one with
//!   `PATCH /api/users/{id}/`, and a locally deactivated account is refused even with a
//!   valid directory key.
//! - The server reads only `Token`, `Basic` and the session cookie and has no hook for a
//!   scheme of our own (say `Authorization: Directory …` or an `X-Employee` header), which
//!   is why the directory's keys have the shape of the server's tokens.
//! - `POST /api/accounts/logout/` with a directory key answers 204 but revokes nothing: the
//!   directory owns its keys. Names and e-mail are copied at the first request only.

use async_trait::async_trait;
use chatcore::auth::{new_token, sha256_hex};
use chatcore::{
    Actor, AuthService, Authenticator, ClientInfo, Credential, Error, ExternalIdentity, Services,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The directory's name as an issuer of identities: with an employee's number it is the
/// key the local account is linked by.
pub const ISSUER: &str = "https://directory.example.com";

/// One person in the company directory.
#[derive(Debug)]
pub struct Employee {
    /// The employee number: the directory's stable id of the person.
    pub number: &'static str,
    /// The login name, used as the local username.
    pub username: &'static str,
    /// Given name.
    pub first_name: &'static str,
    /// Family name.
    pub last_name: &'static str,
    /// Work e-mail address.
    pub email: &'static str,
    /// Where they work (shown in the key list only).
    pub department: &'static str,
    /// Still with the company; a leaver's key is refused.
    pub employed: bool,
}

impl Employee {
    /// The identity the directory vouches for, as the core's `provision` takes it.
    fn identity(&self) -> ExternalIdentity {
        ExternalIdentity {
            issuer: ISSUER.to_owned(),
            subject: self.number.to_owned(),
            username: self.username.to_owned(),
            email: self.email.to_owned(),
            first_name: self.first_name.to_owned(),
            last_name: self.last_name.to_owned(),
        }
    }
}

/// The company's staff: three employees (one of them has the login name of the chat's
/// local admin) and one who left. A real directory would be LDAP, SCIM or an HR database.
pub static EMPLOYEES: &[Employee] = &[
    Employee {
        number: "E1001",
        username: "alice.martin",
        first_name: "Alice",
        last_name: "Martin",
        email: "alice.martin@example.com",
        department: "Engineering",
        employed: true,
    },
    Employee {
        number: "E1002",
        username: "bob.nguyen",
        first_name: "Bob",
        last_name: "Nguyen",
        email: "bob.nguyen@example.com",
        department: "Support",
        employed: true,
    },
    Employee {
        number: "E1003",
        username: "admin",
        first_name: "Adam",
        last_name: "Minsky",
        email: "adam.minsky@example.com",
        department: "Facilities",
        employed: true,
    },
    Employee {
        number: "E0917",
        username: "dave.oldfield",
        first_name: "Dave",
        last_name: "Oldfield",
        email: "dave.oldfield@example.com",
        department: "Sales",
        employed: false,
    },
];

/// An API key the directory handed to an employee (printed once, as a key issuer would).
pub struct IssuedKey {
    /// Who holds the key.
    pub employee: &'static Employee,
    /// The key itself: 40 lowercase hex characters.
    pub key: String,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets: never in a debug print.
        write!(f, "IssuedKey({}, ..)", self.employee.username)
    }
}

/// The directory's key table. Like the chat store with its own tokens, it keeps only the
/// SHA-256 of each key, so a copy of the table holds no usable key and a lookup by hash
/// reveals nothing through its timing.
pub struct CompanyDirectory {
    by_key_hash: HashMap<String, &'static Employee>,
}

impl CompanyDirectory {
    /// Issues a fresh key to every employee in `staff`: the directory and the keys to hand
    /// out. Fresh keys at every start keep usable secrets out of this source file.
    pub fn issue_keys(staff: &'static [Employee]) -> (Self, Vec<IssuedKey>) {
        let issued: Vec<IssuedKey> = staff
            .iter()
            .map(|employee| IssuedKey {
                employee,
                // The shape of the server's own tokens (40 lowercase hex): the REST layer
                // passes `Authorization: Token <key>` through as `Credential::Token`.
                key: new_token(),
            })
            .collect();
        let by_key_hash = issued
            .iter()
            .map(|issued| (sha256_hex(&issued.key), issued.employee))
            .collect();
        (Self { by_key_hash }, issued)
    }

    /// The employee a key was issued to. The token keyword's value is matched ignoring
    /// case, as the built-in authenticator does.
    fn employee_for_key(&self, key: &str) -> Option<&'static Employee> {
        self.by_key_hash
            .get(&sha256_hex(&key.to_ascii_lowercase()))
            .copied()
    }
}

/// The plug-in: directory keys first, then the built-in authenticator.
pub struct DirectoryAuthenticator {
    directory: CompanyDirectory,
    /// Provisions the local account of a directory employee.
    accounts: Arc<dyn AuthService>,
    /// The built-in authenticator: local tokens, Basic passwords, sessions.
    fallback: Arc<dyn Authenticator>,
}

impl DirectoryAuthenticator {
    /// An authenticator for `directory` that provisions accounts through `services.auth`
    /// and hands every other credential to `services.authenticator`. Plug it in with
    /// `services.authenticator = Arc::new(DirectoryAuthenticator::new(directory, &services))`.
    pub fn new(directory: CompanyDirectory, services: &Services) -> Self {
        Self {
            directory,
            accounts: services.auth.clone(),
            fallback: services.authenticator.clone(),
        }
    }
}

#[async_trait]
impl Authenticator for DirectoryAuthenticator {
    async fn authenticate(
        &self,
        credential: &Credential,
        client: &ClientInfo,
    ) -> chatcore::Result<Actor> {
        if let Credential::Token(key) = credential
            && let Some(employee) = self.directory.employee_for_key(key)
        {
            if !employee.employed {
                // Refused here; it must not fall through (it would not match anyway).
                return Err(Error::Unauthenticated);
            }
            // Finds the local account, or creates it on the employee's first request. An
            // account an admin deactivated is refused here (`Unauthenticated`).
            return self.accounts.provision(employee.identity()).await;
        }
        self.fallback.authenticate(credential, client).await
    }
}
