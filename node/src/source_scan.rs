//! For tests that check a registry against the store's code (every
//! invariant asserted somewhere, every coverage point reached somewhere,
//! every failpoint passed somewhere).

/// The text of every `.rs` file under `node/src`, except the files named
/// in `except` (the registry itself, which names every entry).
pub(crate) fn store_code(except: &[&str]) -> String {
    fn read(dir: &std::path::Path, except: &[&str], out: &mut String) {
        for entry in std::fs::read_dir(dir).expect("node/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                read(&path, except, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !except.iter().any(|name| path.ends_with(name))
            {
                out.push_str(&std::fs::read_to_string(&path).expect("source"));
            }
        }
    }
    let mut code = String::new();
    read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        except,
        &mut code,
    );
    code
}
