"""The webapi documentation, generated from the method types.

`python -m moxpy.webapi.docs` prints it as Markdown; gendoc.sh writes it to
docs/webapi.md, and the server renders the same text at /webapi/v0/docs. Field descriptions come from the
Annotated metadata in types.py, so the docs cannot drift from the code.

Headings get ids the way GitHub makes them (lower case, spaces to hyphens,
punctuation dropped), so the table of contents links work both in the
served page and in docs/webapi.md viewed on GitHub.
"""

from __future__ import annotations

import functools
import json
import shlex

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from msgspec import inspect as mi

from .. import tokens as tokenlib
from ..queue.events import EVENTS
from ..webhooks import examples as hookexamples
from ..webhooks import types as hooktypes
from . import changes as changelib
from . import codec, examples
from . import types as t
from .types import COMMON_ERRORS, METHODS, RAW

LOCALSERVE = "http://localhost:1080/webapi/v0/"
CREDENTIALS = "mox@localhost:moxmoxmox"

INTRO = """\
The webapi is a simple HTTP/JSON API to send mail and to read and change
received mail, without SMTP, IMAP or MIME libraries in your application.
Webhooks tell your application about the outcome of every delivery and
about every incoming message, so it does not have to poll. Both are
compatible with mox's webapi and webhooks: field names, error codes and
headers are the same, so clients written for mox work unchanged.
"""

OVERVIEW = """\
## Calling a method

- POST to `/webapi/v0/<Method>` (the base path is configurable per
  listener, `Path` in the config). The body is a form, either
  `application/x-www-form-urlencoded` or `multipart/form-data`, whose field
  `request` holds the request object as JSON. Any other content type, or a
  missing or empty `request`, is a `protocol` error.
- Authenticate with HTTP basic authentication: an email address of the
  account as user name, and the account password. Missing or wrong
  credentials get HTTP 401 with `WWW-Authenticate: Basic realm=webapi`.
  After 10 failed logins in a minute, an IP address gets HTTP 429 for every
  call (without the password being checked) until the minute has passed.
  Successful logins are remembered for a minute, so busy clients do not
  pay for a password hash per call.
- Or authenticate with an API token: `Authorization: Bearer mxt_...`
  (see "API tokens and scopes" below), or an OAuth access token (see
  "OAuth client credentials"). A token may call only the methods
  of its scopes; the account password may call every method but those of
  account administration (scope `admin`, see below).
- Success is HTTP 200 with a JSON object, or raw bytes for MessageRawGet and
  MessagePartGet. Failure is HTTP 400 with `{"Code": "...", "Message": "..."}`:
  `Code` is for programs, `Message` for people. An unknown method is HTTP 404.
- JSON is decoded the way Go decodes it: a key matches the field of the
  same name, or failing that a field whose name differs only in case
  (`"to"` fills `To`); a missing or null field takes its zero value (0, "",
  false, [], {}); an unknown field, a value of the wrong type or a number
  outside the field's range (64-bit integers) is a `protocol` error.
  Timestamps are RFC 3339 with a time zone. Responses always have every
  field: lists are `[]`, never null, and maps `{}`. New fields may be added
  to responses; ignore the ones you do not know.
- A GET of `/webapi/v0/` lists the methods; a GET of `/webapi/v0/<Method>`
  shows a page with an example request and a button that calls the method
  from the browser. The response box first holds an example response,
  labelled as such; after a call it holds the server's answer, labelled
  with its HTTP status. `/webapi/v0/openapi.json` is an OpenAPI 3.1 description
  of every method (mox has none).

## API tokens and scopes

Applications can use a token instead of the account password. A token
belongs to one account, carries a list of scopes, may expire, and can be
revoked at once; only its SHA-256 is stored, so it is shown only when
made. Make one with `mox.py token add ACCOUNT -scope read,send` (printed
on the last line), or with TokenCreate (which needs the password or a
token with scope `tokens`, and grants no scope the calling token lacks).
Call with `Authorization: Bearer TOKEN`.

{scopes}

Each method's scope is listed with it below. A token without it gets HTTP
403 with `{"Code": "permissionDenied", "Message": "..."}`. An unknown,
revoked or expired token gets HTTP 401 with
`WWW-Authenticate: Bearer realm="webapi", error="invalid_token"`, and counts
as a failed login toward the throttle (HTTP 429).

A viewer is a token with `read` but not `read.body`: it lists and searches
messages but never sees their text. MessageGet answers with empty Text and
HTML and `"Viewer": true` (the MIME structure and metadata are kept);
previews in MessageList, MessageSearch and ChangesSince are empty; a search
with Body or Text, MessageRawGet, MessagePartGet and MessageTextGet answer
`permissionDenied`. A Send with a Reference needs `read` too for a reply,
and `read.body` for a forward (which attaches the original).

## OAuth client credentials

A service can get short-lived access tokens for an account itself, with
the OAuth 2.0 client credentials grant (RFC 6749 4.4), instead of keeping
a long-lived token. The operator makes a client with `mox.py client add
ACCOUNT -scope read,send [-name N]`, which prints the client id (`mxc_...`)
on its first line and the secret (`mxs_...`), once, on its last; only the
secret's SHA-256 is kept. The scopes are the most the client's tokens may
have; only the operator makes clients, so only the operator can give one
`admin`. `mox.py client list` shows them (never a secret), `client remove
ID` removes one: its tokens are refused from the next call on.

A token is requested with a POST of a form to `/oauth/token` on the
webapi's listeners (not under `/webapi/v0/`):

```sh
curl --user "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d 'scope=read send' \
    http://localhost:1080/oauth/token
```

```json
{"access_token": "eyJhbGciOiJFUzI1NiIs...", "token_type": "Bearer", "expires_in": 3600, "scope": "send read"}
```

- The client authenticates with HTTP basic auth (id and secret, each
  form-urlencoded first, RFC 6749 2.3.1; ours need no escaping), or with
  `client_id` and `client_secret` in the form; not both.
- `scope` is space-separated; empty or left out, the token gets all the
  client's scopes. A scope the client does not have is refused with
  `invalid_scope`: the token is never silently narrower than asked for.
- The answer is sent with `Cache-Control: no-store`. Use the token as
  `Authorization: Bearer TOKEN` on any method of its scopes until
  `expires_in` seconds have passed, then request a new one.

Errors are HTTP 400 with `{"error": "...", "error_description": "..."}`
(RFC 6749 5.2):

- `invalid_request`: not a POST (HTTP 405), not a form, a parameter given
  twice, `grant_type` missing, or credentials both in basic auth and in
  the form;
- `invalid_client`: unknown or removed client, a wrong secret, or only one
  of `client_id` and `client_secret`; HTTP 401
  with `WWW-Authenticate: Basic` when basic auth was used or no
  credentials were given at all;
- `unsupported_grant_type`: a `grant_type` other than `client_credentials`;
- `invalid_scope`: an unknown scope or one the client lacks;
- `unauthorized_client`: the client's account no longer exists;
- `temporarily_unavailable` (HTTP 429): too many failed attempts from the
  address. Wrong secrets count toward the same throttle as wrong
  passwords and tokens.

An access token is a JWT (RFC 7519) in the profile of RFC 9068, signed
with ES256. Its header has `typ` `at+jwt` and the `kid` of the signing
key; its claims are `iss` (the config's `[OAuth] Issuer`, by default
`https://` and the server's host name), `aud` (the issuer followed by
`/webapi`), `sub` and `client_id` (the client id), `tenant` (the account
it acts for), `scope` (space-separated), `iat`, `exp` and `jti`. Tokens
live `[OAuth] TokenLifetime` seconds (default 3600, at most a day).

Other services can verify tokens themselves with the public keys at
`GET /.well-known/jwks.json`, a JWK Set (RFC 7517) whose keys have `kid`,
`kty` `EC`, `crv` `P-256`, `x`, `y`, `use` `sig` and `alg` `ES256`; it may
be cached for 5 minutes, and fetched again for a `kid` not in it. Check
`typ`, the algorithm (ES256 only), `iss`, `aud` and `exp`. This server
checks more on every call: that the client still exists and belongs to
the account, and that the account still exists; the token then has the
scopes it was granted that the client still has. A refused token gets
HTTP 401 as a bad API token does.

The signing key is made when the first token is issued. `mox.py client
rotatekey` makes a new one, which signs from then on; the old one stays in
the JWK Set and keeps verifying until the last token it signed can have
expired (the token lifetime and a few seconds of leeway after the
rotation), and is then deleted. The keys are kept in `data/mox.db`, which
only the server's user can read.

## Account administration

The methods of scope `admin` act on any account, named in the request.
They take the admin login, HTTP basic auth with user name `admin` and the
password whose argon2id hash is the first line of the config's
`AdminPasswordFile` (`mox.py passwordhash` makes it; localserve's admin
password is `moxadmin`), or a token with scope `admin`. Only `mox.py token
add` or a token that has `admin` itself can make such a token: the
account password cannot, and it gets `permissionDenied` from these
methods. The admin login in turn reaches no account's mail: it gets
`permissionDenied` from every other method. Without an AdminPasswordFile
(outside localserve) there is no admin login.

They change the config file as `mox.py account` does (rewritten
atomically, picked up at once by the running server), so hosting panels
and webmail front-ends need not edit it:

- AccountCreate: a Name with `@` is the account's address and its name
  too (the domain in lower case: `Bob@Example.com` makes account
  `Bob@example.com`); any other Name (letters, digits, `.`, `_`, `-`)
  gets the address `Name@DefaultDomain`, a setting of the config
  (localserve: `localhost`; quickstart: its domain; without it such names
  are a `user` error that says to set it). An account or address that
  exists already is `accountExists`; a domain the config does not have,
  and a password shorter than 8 characters, are `user` errors. The account
  works at once over SMTP, IMAP and the webapi. A name whose directory
  still holds mail of an earlier account (kept by `mox.py account del`) is
  refused until that is removed: AccountDelete of the name removes it.
- AccountSetPassword, AccountDelete, AccountPurge and AccountUnreadCount
  take the account's name or its login address; `accountNotFound` when
  there is no such account.
- AccountDelete removes the account from the config, logs out its IMAP
  sessions (`* BYE`), and deletes its mailboxes and messages from disk,
  its queued and retired messages, webhooks (queued and retired),
  suppressions, API tokens, webhook secrets, fetch rules and OAuth
  clients. Mail for its addresses is
  refused from then on (in localserve it goes to the first account, as
  every unknown address does). An account created again under the same
  name starts empty. `mox.py account del` only removes the account from
  the config and keeps its mail; AccountDelete of that name removes the
  rest later.
- AccountPurge removes every message of every mailbox for good and keeps
  the account and its mailboxes; IMAP sessions see the EXPUNGEs, and
  ChangesSince and change webhooks a `messageDeleted` per message.
- AccountUnreadCount counts messages without `\\Seen` in every mailbox
  but Trash and Junk.

Passwords are never logged; the log has one line per call with the
account's name.

## Errors

Common codes, for any method:

- `protocol`: the call itself is malformed (content type, form, JSON).
- `user`: the request cannot be carried out as asked; the message says why.
- `server`: something failed on our side; it is logged, try again later.
- `badAddress`: an email address in the request is not valid.

Method-specific codes are listed with each method below.
"""

WEBHOOKS = """\
## Webhooks

Webhooks are configured per account in the config file:

```toml
[Accounts.mox.OutgoingWebhook]
URL = "https://app.example/hooks/outgoing"
Authorization = "Basic dXNlcjpwYXNz"  # sent as the Authorization header; optional
Events = []  # which events to send; empty: all

[Accounts.mox.IncomingWebhook]
URL = "https://app.example/hooks/incoming"
Authorization = ""

[Accounts.mox.ChangeWebhook]
URL = "https://app.example/hooks/changes"
Authorization = ""
Events = []  # which events to send; empty: all
```

A webhook is an HTTP POST with a JSON body and the headers
`X-Mox-Webhook-ID` (unique per webhook; the same on every attempt, so you
can recognise repeats) and `X-Mox-Webhook-Attempt` (1, 2, ...), plus
`Authorization` when configured. Any 2xx answer is success (mox accepts
only 200). Anything else, or no answer within 60 seconds, is a failed
attempt, retried after 1m, 2m, 4m, 7.5m, 15m, 30m, 1h, 2h, 4h, 8h and 16h,
then given up. At most one request is in flight per URL, so a slow receiver
is not flooded. Webhooks wait in a durable queue and survive restarts.

Webhooks can be signed as the Standard Webhooks specification says: once
`mox.py webhook secret ACCOUNT` made a secret for the account and kind
(outgoing, incoming, change), each POST also carries `webhook-id` (the same
as `X-Mox-Webhook-ID`), `webhook-timestamp` and `webhook-signature`
(`v1,` and the base64 HMAC-SHA256 of `ID.TIMESTAMP.BODY`; during a secret
rotation two, space-separated). Verify them with the `standardwebhooks`
library or by hand, as docs/operations.md, "Signed webhooks", shows.

Only the newest event about an outgoing message matters: when a new event
is queued, older ones for the same message that were not delivered yet are
retired as superseded.

### Outgoing events

Sent for each state change of a queued message:

{events}

Fields of an outgoing webhook:

{outgoing}

### Incoming messages

Sent for every message delivered into the account over SMTP, except
delivery status notifications (DSNs) about messages the account sent:
those become outgoing events with `DSN: true`. The payload has the parsed
headers, the first text and HTML parts (cut at 1 MiB), the MIME structure
and delivery details; fetch the full message or any part with
MessageRawGet and MessagePartGet using `Meta.MsgID`.

{incoming}

Fields of `Meta`:

{incoming_meta}

### Change webhooks

Sent for every change to the account's mailboxes and messages, whatever
made it: delivery over SMTP, Send, IMAP or the webapi. A flag set by an
IMAP client raises the same `messageUpdated` as one set with
MessageFlagsAdd. The events (mox has none of these):

{change_events}

Each change of each message is a webhook of its own: moving ten messages
makes ten `messageDeleted` and ten `messageNew` webhooks. The payload is
the same as a change in ChangesSince's response:

{change}

Every change is kept in the account's change log, in order, and the
webhooks are made from it exactly once, also across restarts and crashes
(a change committed just before a crash gets its webhook after the
restart). They start when the server first sees the setting; removing it
and setting it again starts afresh from then. As all webhooks they are
retried, so after a failed attempt a later change may arrive before an
earlier one: order them by catching up with ChangesSince from the
`Cursor` of the last change you processed, which also covers any time
your application was down. The log is kept for the account's
`ChangesRetention` (30 days by default); a cursor older than that gets
`cursorExpired`, and the application resynchronises (MessageList, or
IMAP) and continues from a fresh cursor (`Cursor: ""`).
"""

TRANSACTIONAL = """\
## Transactional email

When your application sends to many recipients, process the failures:
receiving servers treat repeated sending to addresses that do not exist as
spam, and may block your server.

- The queue keeps a suppression list per account. A permanent failure with
  SMTP code 521, 550, 551, 553 or 556, or enhanced code 5.1.1, 5.1.2, 5.1.3,
  5.1.6, 5.2.1 or 5.7.1 adds the recipient at once; other permanent failures
  add it after three failed messages in a row. Later messages to a
  suppressed address fail at once with a `suppressed` event. Manage the list
  with the Suppression methods. Addresses match on a base address: lower
  case, cut at the first `+` or `-`, dots removed.
- Configure the login address your application uses in the account's
  `FromIDLoginAddresses`. Each recipient then gets a unique SMTP MAIL FROM
  (`localpart+ID@domain`), returned by Send as `FromID`; bounces to it are
  matched to the message and recipient even when the remote server's
  report is vague, and arrive as outgoing webhooks with `DSN: true`. Set
  `KeepRetiredMessagePeriod` so late bounces still match.
- Include an unsubscribe link in the footer of every message, and the
  headers `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058) through
  Send's `Headers`, so recipients can leave with one click instead of
  reporting spam. Messages with such headers are recognised as automated
  (`Automated` in incoming webhooks) by well-behaved receivers.
"""

LISTING = """\
## Listing and searching mail

MessageList and MessageSearch answer from what the server indexed when
each message arrived (over SMTP, Send's copy in Sent, IMAP APPEND, a copy
or move), so they read no message files and stay fast in large
mailboxes; a message is listed and searchable as soon as it is stored, and
one deleted or moved is gone from its mailbox's listing at once.

- Order is newest first by `Received` (the IMAP internal date), then by
  `MsgID`. `Page` counts from 1 with `PageSize` messages per page (default
  20, at most 1000); a page past the end is empty. `Total` and `Pages`
  count all matching messages.
- `NextCursor` continues after the last message of a page. Pass it as
  `Cursor` (without `Page`) for the next page: new mail arriving
  meanwhile, or messages removed, do not make you skip or see a message
  twice; `Page` in the answer then says where that page is now. An empty
  `NextCursor` means there is nothing after this page. Cursors are opaque;
  one of another search continues after the same position in yours.
- A search with an empty `Mailbox` covers every mailbox but those with
  special use `\\Trash` and `\\Junk`, whatever their names.
- All criteria given must match. `From`, `To`, `Subject`, `Body` and `Text`
  take search text: words and "quoted phrases". Each word matches words
  that start with it (`invoice` finds "invoices"), a phrase its words in
  that order; every word and phrase must occur. Case and accents do not
  matter (`cafe` finds "Café"). Letters and digits make words, everything
  else separates them, so `bob@example.org` finds that address and
  `example.org` everyone there, but `ob@ex` finds nothing. There are no
  operators: `OR`, `NOT`, `-`, `*` and parentheses are searched as text
  (punctuation is ignored). Search text with no letters or digits is a
  `user` error.
- `To` looks in To, Cc and Bcc (Bcc is only in copies in Sent). `Body` is
  the text part, or the HTML made text (without scripts and styles) when a
  message has no text part; its first 262,144 characters are indexed.
  `Text` looks in subject, addresses and body together.
- `Since` and `Before` compare with `Received`; `Unread`, `Flagged` and
  `HasAttachments` are null for either. A message has attachments when a
  part is marked as attachment, or is a file or message that is not shown
  inline (an image referenced from the HTML is not an attachment).
- MessageTextGet returns the first text and HTML parts as MessageGet picks
  them, decoded, with `\\n` line ends, each cut at `MaxBytes` bytes of
  UTF-8 (default 1 MiB) without splitting a character. `TextSize` and
  `HTMLSize` are the sizes of the whole parts, the same as in the message's
  summary: when nothing was cut, the size is that of the text returned.
"""


FETCHING = """\
## Collecting mail from other mailboxes

An administrator can have the server fetch the mail of a POP3 or IMAP
mailbox elsewhere into an account, as fetchmail does, with FetchRuleAdd
(scope `admin`). The collector runs in the server's front process: a rule
runs at once when added or updated, then every `IntervalSeconds` (at least
60 s, or 1 s in localserve, for tests; default 300 s), at most four rules
at a time, with a timeout of 60 s on every network operation.

- What is new is decided by POP3 UIDL (RFC 1939 7; a server without UIDL
  gets status `error` saying so) or IMAP UID within the mailbox's
  UIDVALIDITY (RFC 9051 2.3.1.1). The rule remembers each message it
  fetched, and forgets those no longer on the server, so nothing is
  fetched twice. When the UIDVALIDITY changes (a mailbox made anew, a
  server restored), every message there is fetched again, but one whose
  bytes are those of a message fetched before is not delivered again.
  Changing Protocol, Host, Username or Mailbox with FetchRuleUpdate starts
  afresh, as a new rule: everything in that mailbox is fetched.
- Each message is delivered to the account's Inbox the way mail arriving
  over SMTP is: the incoming webhook fires (with `MailFrom` from the
  message's Return-Path and `RemoteIP` the server fetched from), change
  webhooks and IMAP sessions see it. A `Received` header in front of the
  message says where it came from and with which protocol
  (`with POP3S (fetch rule 3)`).
- With `DeleteAfterFetch` a message is removed from the remote server only
  after the local copy is on disk (fsync'ed): POP3 DELE, applied at QUIT;
  IMAP `\\Deleted` then UID EXPUNGE (plain EXPUNGE on servers without
  UIDPLUS, which also removes other messages marked `\\Deleted` there). A
  removal that did not happen (the session broke off) is done on the next
  run. Without it, messages are left as they were (IMAP BODY.PEEK keeps
  them unread).
- Messages larger than `MaxMessageSize` are left on the remote server,
  counted once in `Skipped`, and not tried again.
- TLS is `implicit` by default; `starttls` upgrades the connection first
  (STLS or STARTTLS); `none` sends the password in the clear. The server's
  certificate must be trusted by the system and name Host, unless
  `TLSSkipVerify` is set (for a self-signed certificate).
- `Status` in FetchRuleList is that of the last run: `notRunYet`, `ok`,
  `authFailed` (the login was refused), `connectionFailed` (refused or timed
  out), `badHost` (the name does not resolve) or `error` (TLS, protocol,
  storing), with `LastError` saying what happened.
- Passwords are stored encrypted (AES-256-GCM) with a key the server makes
  in its data directory (`fetch-passwords.key`, mode 0600); no response
  returns them, and they are not logged. FetchRuleUpdate with an empty
  `Password` keeps the stored one.
- A message is remembered right after it is stored: if the server stops in
  between, that one message is fetched again at the next run. Mail is
  never lost for it.
"""


RULES = """\
## Delivery rules

An account's delivery rules sort, flag, drop and forward its incoming
mail. They are managed with RuleCreate, RuleUpdate, RuleDelete and
RuleList, which take the admin login (see "Account administration") and
name the account; they are kept in the account's own database (not the
config file), survive restarts, and apply from the next delivery on.
`mox.py rule list ACCOUNT` prints them (`-sieve` as a Sieve script).

- Rules apply to every message stored for the account: mail over SMTP,
  and Sends to an address of ours, which go through the queue to our own
  SMTP listener. DSNs about the account's own outgoing mail are not
  filtered.
- A rule holds when its `Conditions` do: all of them with `Join` "and"
  (the default), one with "or"; a rule without conditions holds for every
  message. Rules run in their order (`Position`, from 1): the first
  matching `storeIn` or `discard` decides where the message goes (later
  ones are ignored), `markRead` (`\\Seen`) and `markFlagged`
  (`\\Flagged`) flags add up from every matching rule, and every matching
  `forward` sends a copy. A `Disabled` rule is kept but not applied.
  RuleCreate appends a rule, or inserts it at `Position`; RuleUpdate
  replaces the whole rule (`NewName` renames it) and keeps its place unless
  `Position` moves it.
- Fields: `From` (the addresses of From, without display names),
  `AnyToOrCc` (the addresses of To and Cc), `Subject`, and `Header:NAME`
  for any header field, such as `Header:X-Spam-Flag` or `Header:List-Id`.
  Header values are unfolded and their RFC 2047 encoded words decoded.
  Only the header as sent is looked at, not the Received and
  Authentication-Results fields the server adds at delivery. Text
  operations ignore case: `is` (the whole value), `contains`, `matches` (a
  glob: `*` is any text, every other character is itself, and the glob
  must match the whole value), and their negations `isNot` and
  `notContains`. A field with several values (two addresses in To) holds
  for `is`, `contains` and `matches` when one value does, and for `isNot`
  and `notContains` when none does, so those two hold for a message
  without the field.
- `Size` is the message as stored, in bytes, the size MessageGet and IMAP
  report (including the Received and Authentication-Results fields added
  at delivery); `is`, `isNot`, `lessThan` and `greaterThan` (both strict).
- `discard` accepts the message (SMTP 250) and stores nothing, logged; no
  incoming webhook is sent for it. `storeIn` creates its mailbox (and
  parents) at the first message that needs it, with the change webhooks
  and change log entries of any new mailbox.
- `forward` queues a copy for the address, sent from the account's first
  address (its first destination that is not a catchall) as MAIL FROM, so
  the receiving server checks SPF against our domain, and a failure comes
  back as a DSN in the account's Inbox. The copy is the message as stored
  with an `X-Moxpy-Forwarded-By` field in front and our DKIM signature when
  the account's domain has keys; it is an ordinary queue entry of the
  account (`mox.py queue list`, outgoing webhooks, daily sending limits:
  past a limit the message is stored but not forwarded). A message that
  already carries the account's `X-Moxpy-Forwarded-By` is not forwarded
  again, so two accounts forwarding to each other do not loop. The
  original is still stored, unless a `discard` rule matches too.
- Errors: `user` with a message that starts with the field at fault, such
  as `Conditions[1].Operation: ...` or `Action.Value: ...`; `ruleExists`
  and `ruleNotFound` for names. At most 500 rules per account and 50
  conditions per rule.
- RuleList with `"Format": "sieve"` also returns the rules as a Sieve
  script (RFC 5228, with `fileinto`, `imap4flags` and `copy`) in `Sieve`,
  for servers that filter with Sieve. It decides what the rules decide:
  the flag rules first (`addflag`), then the forwards (`redirect :copy`),
  then one `if`/`elsif` chain of the `storeIn` and `discard` rules, each
  with its rule's name in a comment; disabled rules are left out. Sieve's
  default comparator ignores the case of ASCII letters only. Importing
  Sieve scripts is not supported.
"""

LISTS = """\
## Mailing lists

An account (a tenant) keeps mailing lists with double opt-in members:
ListCreate, ListGet, ListUpdate, ListDelete, ListsList and ListMembers,
with scope `newsletter:lists`. The member endpoints a tenant's site calls
(subscribe, the confirmation link, unsubscribe tokens, one-click
unsubscribe, preferences) are JSON under `/newsletter/` on the same
listener; docs/newsletter.md describes them, with the statuses and
errors.

- `FromAddress` must be one the account may send from, as Send's From
  (`badFrom`; `badAddress` when it is no address). `Name`, `FromName` and
  `ConfirmSubject` are one line of at most 200 characters, `ConfirmText`
  at most 10000 (`user`, naming the field).
- `listNotFound` when the account has no list with the ID; another
  account's list gets the same answer, word for word. List IDs are never
  reused.
- Statuses: `pending` (the confirmation link not yet followed),
  `confirmed`, `unsubscribed`, `bounced`. ListMembers pages from 1,
  `PageSize` 100 by default, at most 1000, in the order members first
  subscribed.
"""


def type_name(t: mi.Type) -> str:
    if isinstance(t, mi.Metadata):
        return type_name(t.type)
    if isinstance(t, mi.StrType):
        return "string"
    if isinstance(t, mi.IntType):
        return "integer"
    if isinstance(t, mi.BoolType):
        return "bool"
    if isinstance(t, mi.DateTimeType):
        return "time (RFC 3339)"
    if isinstance(t, mi.ListType):
        return f"[{type_name(t.item_type)}]"
    if isinstance(t, mi.TupleType):
        return "[" + ", ".join(type_name(i) for i in t.item_types) + "]"
    if isinstance(t, mi.DictType):
        return f"{{{type_name(t.key_type)}: {type_name(t.value_type)}}}"
    if isinstance(t, mi.StructType):
        return t.cls.__name__
    if isinstance(t, mi.UnionType):
        return " or ".join(type_name(i) for i in t.types)
    if isinstance(t, mi.NoneType):
        return "null"
    return type(t).__name__


def description(t: mi.Type) -> str:
    if isinstance(t, mi.Metadata) and t.extra_json_schema:
        return t.extra_json_schema.get("description", "")
    return ""


def structs_in(t: mi.Type, found: dict[str, type]) -> None:
    if isinstance(t, mi.Metadata):
        structs_in(t.type, found)
    elif isinstance(t, mi.StructType):
        if t.cls.__name__ not in found:
            found[t.cls.__name__] = t.cls
            for f in t.fields:
                structs_in(f.type, found)
    elif isinstance(t, (mi.ListType, mi.DictType)):
        structs_in(getattr(t, "item_type", None) or t.value_type, found)
    elif isinstance(t, mi.UnionType):
        for i in t.types:
            structs_in(i, found)


def field_table(cls: type) -> str:
    info = mi.type_info(cls)
    if not info.fields:
        return "No fields: `{}`."
    rows = ["| Field | Type | Description |", "|---|---|---|"]
    for f in info.fields:
        text = description(f.type).replace("|", "\\|")
        rows.append(f"| `{f.name}` | {type_name(f.type).replace('|', '/')} | {text} |")
    return "\n".join(rows)


def json_block(value) -> str:
    return "```json\n" + codec.encode_pretty(value) + "\n```"


def curl_examples() -> list[tuple[str, str, object]]:
    """(what it shows, shell commands, documented answer) for a fresh localserve.

    Run in this order against a fresh localserve they all succeed: the
    first Send becomes message 1 in the Inbox, the second message 2, the
    reply message 3.
    """
    def call(method: str, request: dict, form: str = "--data-urlencode") -> str:
        body = json.dumps(request, ensure_ascii=False)
        return f"curl --user {CREDENTIALS} {form} request={shlex.quote(body)} {LOCALSERVE}{method}"

    send_files = (
        "printf 'some notes\\n' > notes.txt\n"
        f"curl --user {CREDENTIALS} \\\n"
        "    --form request='" + json.dumps({
            "To": [{"Address": "mox@localhost"}], "Subject": "files", "Text": "see attached",
            "HTML": '<p>see attached <img src="cid:dot"></p>',
            "InlineFiles": [{"Name": "dot.png", "ContentType": "image/png", "ContentID": "<dot>",
                             "Data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="}]},
            ensure_ascii=False) + "' \\\n"
        "    --form 'attachedfile=@notes.txt;type=text/plain' \\\n"
        f"    {LOCALSERVE}Send"
    )
    not_found = {"Code": "messageNotFound", "Message": "message not found"}
    return [
        ("Send a message:", call("Send", {"To": [{"Address": "mox@localhost"}], "Subject": "hello", "Text": "hi ☺"}),
         examples.RESPONSES["Send"]),
        ("Send with files, uploaded as form parts and as base64 in the JSON:", send_files, examples.RESPONSES["Send"]),
        ("Get a message, parsed:", call("MessageGet", {"MsgID": 1}), examples.RESPONSES["MessageGet"]),
        ("Get a message as stored, byte for byte:", call("MessageRawGet", {"MsgID": 1}), None),
        ("Get one part of a message, decoded (the attached file of message 2):",
         call("MessagePartGet", {"MsgID": 2, "PartPath": [1]}), None),
        ("Mark a message as read and add a keyword:", call("MessageFlagsAdd", {"MsgID": 1, "Flags": ["\\Seen", "custom"]}), {}),
        ("Move it to the Archive:", call("MessageMove", {"MsgID": 1, "DestMailboxName": "Archive"}), {}),
        ("Reply to it: recipients, subject and threading headers come from the original, which gets \\Answered:",
         call("Send", {"Text": "thanks!", "Reference": {"MsgID": 1, "Action": "reply"}}), examples.RESPONSES["Send"]),
        ("Make a mailbox (and its parent):", call("MailboxCreate", {"Name": "Projects/2024"}), {}),
        ("List the mailboxes with their counts:", call("MailboxList", {}), examples.RESPONSES["MailboxList"]),
        ("Stop sending to an address:", call("SuppressionAdd", {"EmailAddress": "bounces@example.org", "Manual": True,
                                                                "Reason": "asked to stop"}), {}),
        ("Check the suppression list:", call("SuppressionPresent", {"EmailAddress": "Bounces+x@example.org"}),
         examples.RESPONSES["SuppressionPresent"]),
        ("List it:", call("SuppressionList", {}), examples.RESPONSES["SuppressionList"]),
        ("Remove the address again:", call("SuppressionRemove", {"EmailAddress": "bounces@example.org"}), {}),
        ("Delete a message for good:", call("MessageDelete", {"MsgID": 1}), {}),
        ("Errors come with HTTP status 400, a code for programs and a message for people:",
         call("MessageGet", {"MsgID": 1}), not_found),
    ]


def renderer() -> MarkdownIt:
    """The Markdown renderer of the served page: CommonMark with tables, and
    an id on every heading up to level 3 (the levels the contents list)."""
    return MarkdownIt("commonmark").enable("table").use(anchors_plugin, min_level=1, max_level=3)


def contents(text: str) -> str:
    """A nested list linking every level 2 and 3 heading of text, by the ids the renderer gives them."""
    tokens = renderer().parse(text)
    lines = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3"):
            indent = "  " if token.tag == "h3" else ""
            lines.append(f"{indent}- [{tokens[i + 1].content}](#{token.attrGet('id')})")
    return "\n".join(lines)


def markdown() -> str:
    head = ["# The webapi and webhooks", "",
            "<!-- Generated by gendoc.sh from moxpy/webapi/types.py and moxpy/webhooks/types.py; do not edit. -->",
            "", INTRO]
    body = sections()
    # The contents take the ids from the body alone; they are the same in the
    # whole text because no heading of the body is titled like the two before it.
    return "\n".join(head + ["## Contents", "", contents(body), "", body])


@functools.cache
def html() -> str:
    """The documentation as HTML, for /webapi/v0/docs."""
    return renderer().render(markdown())


def sections() -> str:
    """Everything after the table of contents."""
    scopes = "\n".join(f"- `{name}`: {text}" for name, text in tokenlib.SCOPES.items())
    out = [OVERVIEW.replace("{scopes}", scopes), "## Methods", ""]
    structs: dict[str, type] = {}
    for name, method in METHODS.items():
        out += [f"### {name}", "", method.summary, "", "Request:", "", field_table(method.request), ""]
        for f in mi.type_info(method.request).fields:
            structs_in(f.type, structs)
        if method.response == RAW:
            out += ["Response: the bytes, not JSON.", ""]
        else:
            out += ["Response:", "", field_table(method.response), ""]
            for f in mi.type_info(method.response).fields:
                structs_in(f.type, structs)
        codes = ", ".join(f"`{c}`" for c in method.errors + COMMON_ERRORS)
        out += [f"Token scope: `{method.scope}`.", ""] if method.scope else []
        out += [f"Error codes: {codes}.", "", "Example request:", "", json_block(examples.REQUESTS[name]), ""]
        if method.response != RAW:
            out += ["Example response:", "", json_block(examples.RESPONSES[name]), ""]
    out += ["## Types", "", "Types used in requests and responses above.", ""]
    for name in sorted(structs):
        if name.endswith(("Request", "Result")):
            continue
        out += [f"### {name}", "", field_table(structs[name]), ""]
    events = "\n".join(f"- `{name}`: {text}" for name, text in EVENTS.items())
    change_events = "\n".join(f"- `{name}`: {text}" for name, text in changelib.EVENTS.items())
    out += [WEBHOOKS.format(events=events, outgoing=field_table(hooktypes.Outgoing),
                            incoming=field_table(hooktypes.Incoming),
                            incoming_meta=field_table(hooktypes.IncomingMeta), change_events=change_events,
                            change=field_table(t.ChangeEvent)),
            TRANSACTIONAL, LISTING, FETCHING, RULES, LISTS, "## Examples with curl", "",
            "Against a fresh `python3 dev.py localserve`, with its default account. Run in this order, each works.",
            "`--data-urlencode` encodes the JSON as the form needs (with plain `--data`, a `+` in an address",
            "would arrive as a space).", ""]
    for text, command, answer in curl_examples():
        out += [text, "", "```sh", command, "```", ""]
        if answer is not None:
            out += [json_block(answer), ""]
    out += ["## Example webhook payloads", "",
            "As printed by `python3 dev.py mox example NAME` (or `.venv/bin/mox example NAME`), made from the",
            "types the server sends.", ""]
    for name, (text, make) in {**hookexamples.EXAMPLES, **examples.WEBHOOKS}.items():
        out += [f"### {name}", "", text, "", json_block(make()), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
