//! Who is asking: the client's address, and its browser and OS read roughly from the
//! User-Agent, for the challenge's context and the event log.

/// Who is asking, for the challenge's context and the event log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's IP address (from `X-Forwarded-For` with `--trust-proxy`).
    pub ip: String,
    /// Browser, from the User-Agent.
    pub browser: Option<String>,
    /// Operating system, from the User-Agent.
    pub os: Option<String>,
}

impl Client {
    /// Reads the browser and OS names from a User-Agent string (a rough guess, for display).
    pub fn new(ip: String, user_agent: &str) -> Self {
        let browser = [
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chromium/", "Chromium"),
            ("HeadlessChrome/", "Chrome"),
            ("Chrome/", "Chrome"),
            ("Version/", "Safari"),
            ("curl/", "curl"),
        ]
        .iter()
        .find_map(|(marker, name)| {
            let start = user_agent.find(marker)? + marker.len();
            let major: String = user_agent[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            Some(if major.is_empty() {
                (*name).to_owned()
            } else {
                format!("{name} {major}")
            })
        });
        let os = [
            ("iPhone", "iOS"),
            ("iPad", "iPadOS"),
            ("Android", "Android"),
            ("Windows", "Windows"),
            ("Mac OS X", "macOS"),
            ("CrOS", "ChromeOS"),
            ("Linux", "Linux"),
        ]
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| (*name).to_owned());
        Self { ip, browser, os }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_guesses() {
        let c = Client::new(
            "203.0.113.7".into(),
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        );
        assert_eq!(c.browser.as_deref(), Some("Firefox 140"));
        assert_eq!(c.os.as_deref(), Some("Linux"));
        let c = Client::new(
            "::1".into(),
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        );
        assert_eq!(c.browser.as_deref(), Some("Safari 17"));
        assert_eq!(c.os.as_deref(), Some("macOS"));
    }
}
