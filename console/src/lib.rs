//! The web console (SPEC section 12): three static files, written by hand without a framework
//! or a build step, compiled into the binary with `include_bytes!` so that the gateway serves
//! them with nothing fetched from anywhere. The page calls the logs API (`/api/*`) with the
//! admin key the person types, kept in the tab's `sessionStorage`.

#![warn(missing_docs)]

/// One file of the console.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const INDEX: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../assets/index.html"),
};
const SCRIPT: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: include_bytes!("../assets/console.js"),
};
const STYLE: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    body: include_bytes!("../assets/console.css"),
};

/// The asset at `path` (`/console`, `/console/`, `/console/console.js`, ...), if any.
pub fn asset(path: &str) -> Option<Asset> {
    match path {
        "/console" | "/console/" | "/console/index.html" => Some(INDEX),
        "/console/console.js" => Some(SCRIPT),
        "/console/console.css" => Some(STYLE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_its_own_assets() {
        let page = std::str::from_utf8(INDEX.body).expect("utf-8");
        for linked in ["/console/console.js", "/console/console.css"] {
            assert!(page.contains(linked), "{linked}");
            assert!(asset(linked).is_some(), "{linked}");
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(asset("/console/../Cargo.toml").is_none());
    }
}
