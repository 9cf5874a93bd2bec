//! The SMTP mailer against a local fake server speaking the real protocol (no mail server is
//! reachable here): the envelope, the headers and the body arrive as sent.

use quantdesk_server::auth::mailer::{Mailer, Smtp};
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
