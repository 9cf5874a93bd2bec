//! Sending e-mail: SMTP when `smtp_url` is set, otherwise a development mailbox that writes each
//! message to a file in `mailbox_dir` and logs where it went (never what it says: messages carry
//! codes that must not reach a log; and the address only masked).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Something that delivers messages.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
    /// `smtp` or `mailbox`, for readiness and logs.
    fn kind(&self) -> &'static str;
}

/// The mailer a server is configured with: SMTP when `smtp_url` is set and usable, otherwise
/// (and, with an error logged, when it is not usable) the development mailbox in `mailbox_dir`.
pub fn configured(smtp_url: &str, mailbox_dir: &str, from: &str) -> Arc<dyn Mailer> {
    match smtp_url {
        "" => Arc::new(Mailbox::new(mailbox_dir, from)),
        url => match Smtp::new(url, from) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                tracing::error!(error = %e, "mail cannot be sent by SMTP; writing it to the mailbox folder instead");
                Arc::new(Mailbox::new(mailbox_dir, from))
            }
        },
    }
}

/// Delivers through an SMTP server.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

impl Smtp {
    /// `url`: `smtps://user:pass@host[:465]`, `smtp://user:pass@host:587?tls=required` (STARTTLS)
    /// or `smtp://host:25` (plain, for a local relay), as lettre reads it.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url is not usable: {e}"))?
            .build();
        from.parse::<lettre::message::Mailbox>().map_err(|e| format!("mail_from {from:?} is not an address: {e}"))?;
        Ok(Smtp { transport, from: from.to_string() })
    }
}

/// Breaks every line longer than `max` bytes at its last space before `max` (or, in text
/// without spaces such as Chinese, at a character boundary), so that the body can go as 8bit.
fn wrap(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        let mut rest = line.trim_end_matches('\r');
        while rest.len() > max {
            let mut cut = 0;
            for (i, c) in rest.char_indices() {
                if i + c.len_utf8() > max {
                    break;
                }
                cut = i + c.len_utf8();
            }
            let at_space = rest[..cut].rfind(' ').filter(|i| *i > 0);
            let (head, tail) = match at_space {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => rest.split_at(cut.max(rest.chars().next().map_or(1, char::len_utf8))),
            };
            out.push_str(head);
            out.push('\n');
            rest = tail;
        }
        out.push_str(rest);
        out.push('\n');
    }
    out.pop();
    out
}

fn message(from: &str, to: &str, subject: &str, body: &str) -> Result<Message, String> {
    Message::builder()
        .from(from.parse().map_err(|e| format!("bad sender: {e}"))?)
        .to(to.parse().map_err(|e| format!("bad recipient: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        // 8bit keeps a UTF-8 body (the Chinese half of every message) readable as it is; lines are short.
        .body(
            lettre::message::Body::new_with_encoding(
                wrap(body, 72),
                lettre::message::header::ContentTransferEncoding::EightBit,
            )
            .map_err(|_| "the message cannot be sent as 8bit text".to_string())?,
        )
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[async_trait]
impl Mailer for Smtp {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let msg = message(&self.from, to, subject, body)?;
        self.transport.send(msg).await.map(|_| ()).map_err(|e| format!("SMTP delivery failed: {e}"))
    }
    fn kind(&self) -> &'static str {
        "smtp"
    }
}

/// Writes messages as `.eml` files into a folder: the sign-up and reset flows work with no mail
/// server, and the person running quantdesk reads the codes from there.
///
/// Files are named `{nanoseconds}-{random}-{tag}.eml`, where the tag is a hash of the address
/// ([`Mailbox::file_tag`]), so neither the names nor the log show who was written to. The folder
/// is created 0700 and each file 0600 (on Unix): they hold codes in clear.
pub struct Mailbox {
    dir: PathBuf,
    from: String,
}

impl Mailbox {
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Self {
        Mailbox { dir: dir.into(), from: from.to_string() }
    }

    /// Messages to `to`, oldest first (for tests and the demo).
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        let tag = Self::file_tag(to);
        files
            .into_iter()
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(&tag)))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }
}

impl Mailbox {
    /// The part of a message's file name that says who it is to: the first 32 hex digits of the
    /// SHA-256 of the address, trimmed and lower-cased (addresses are stored lower-cased).
    pub fn file_tag(to: &str) -> String {
        super::secrets::sha256_hex(&to.trim().to_lowercase())[..32].to_string()
    }
}

#[async_trait]
impl Mailer for Mailbox {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let msg = message(&self.from, to, subject, body)?;
        quantdesk_store::files::create_private_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let path = self.dir.join(format!(
            "{:020}-{}-{}.eml",
            now.as_nanos(),
            super::secrets::random_hex(4),
            Self::file_tag(to)
        ));
        let write = |path: &std::path::Path| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = quantdesk_store::files::create_private_file(path)?;
            f.write_all(&msg.formatted())?;
            f.sync_all()
        };
        write(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // The masked address, the subject and the path (named by a hash) only: the body holds a code.
        tracing::info!(to = %super::mask_email(to), subject, path = %path.display(), "mail written to the development mailbox");
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "mailbox"
    }
}

#[cfg(test)]
mod wrap_tests {
    #[test]
    fn long_lines_are_wrapped_within_the_limit_and_lose_nothing() {
        let text = format!("{}\n{}\nshort", "word ".repeat(40), "验证码".repeat(30));
        let wrapped = super::wrap(&text, 72);
        assert!(wrapped.lines().all(|l| l.len() <= 72), "{wrapped}");
        assert_eq!(wrapped.replace(['\n', ' '], ""), text.replace(['\n', ' '], ""));
        assert!(wrapped.ends_with("\nshort"));
    }
}
