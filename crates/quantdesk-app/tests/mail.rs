//! The SMTP mailer against a local fake server speaking the real protocol (no mail server is
//! reachable here): the envelope, the headers and the body arrive as sent. The development
//! mailbox: files named by a hash of the address, only a masked address logged, owner-only modes.

use quantdesk_app::accounts::mailer::{Mailer, Smtp};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Accepts one SMTP session and returns everything the client said.
async fn fake_smtp(listener: tokio::net::TcpListener) -> Vec<String> {
    let (sock, _) = listener.accept().await.unwrap();
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut seen = Vec::new();
    w.write_all(b"220 fake.test ESMTP\r\n").await.unwrap();
    let mut in_data = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push(line.clone());
        if in_data {
            if line == "." {
                in_data = false;
                w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
            }
            continue;
        }
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-fake.test\r\n250 8BITMIME\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n").await.unwrap();
                break;
            }
            _ => b"502 not implemented\r\n",
        };
        w.write_all(reply).await.unwrap();
    }
    seen
}

#[tokio::test]
async fn smtp_delivers_the_message() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(fake_smtp(listener));
    let mailer = Smtp::new(&format!("smtp://127.0.0.1:{port}"), "quantdesk <noreply@quantdesk.test>").unwrap();
    assert_eq!(mailer.kind(), "smtp");
    mailer.send("alice@example.com", "Your code", "Your code is 123456.\n").await.unwrap();
    drop(mailer);
    let seen = server.await.unwrap();
    let text = seen.join("\n");
    assert!(text.contains("MAIL FROM:<noreply@quantdesk.test>"), "{text}");
    assert!(text.contains("RCPT TO:<alice@example.com>"), "{text}");
    assert!(text.contains("Subject: Your code"), "{text}");
    assert!(text.contains("Your code is 123456."), "{text}");
    assert!(Smtp::new("smtp://127.0.0.1:1", "not an address").is_err(), "a bad sender is refused up front");
}

/// Logs of this thread, for proving what reached them.
fn capture_logs() -> (std::sync::Arc<std::sync::Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let w = W(sink.clone());
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || w.clone()).finish();
    (sink, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn the_mailbox_names_files_by_a_hash_and_logs_only_a_masked_address() {
    use quantdesk_app::accounts::mailer::Mailbox;
    let (logs, _guard) = capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let mailbox = Mailbox::new(dir.path().join("mail"), "quantdesk <noreply@quantdesk.test>");
    assert_eq!(mailbox.kind(), "mailbox");
    mailbox.send("alice.smith@example.com", "Your code", "Your code is 123456.\n").await.unwrap();

    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("a***@example.com"), "the masked address is logged: {logged}");
    assert!(logged.contains("development mailbox"), "{logged}");
    for secret in ["alice.smith", "alice", "123456"] {
        assert!(!logged.contains(secret), "{secret:?} reached the log: {logged}");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(!names[0].contains("alice") && !names[0].contains("example"), "{names:?}");
    assert!(names[0].ends_with(&format!("-{}.eml", Mailbox::file_tag("alice.smith@example.com"))), "{names:?}");
    // Tests (and people) still find a recipient's messages.
    let got = mailbox.messages_to("alice.smith@example.com");
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Your code is 123456."));
    assert!(mailbox.messages_to("bob@example.com").is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn mailbox_folders_and_messages_are_for_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data").join("mailbox");
    let mailbox = quantdesk_app::accounts::mailer::Mailbox::new(&folder, "quantdesk <noreply@quantdesk.test>");
    mailbox.send("carol@example.com", "Your code", "Your code is 654321.\n").await.unwrap();
    let mode = |p: &std::path::Path| format!("{:o}", std::fs::metadata(p).unwrap().permissions().mode() & 0o777);
    assert_eq!(mode(&dir.path().join("data")), "700", "a created parent folder");
    assert_eq!(mode(&folder), "700", "the mailbox folder");
    let file = std::fs::read_dir(&folder).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&file), "600", "{}", file.display());
}
