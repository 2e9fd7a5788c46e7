//! docs/writing-a-provider.md quotes this crate: every Rust and TOML snippet in it must still be
//! found, verbatim, in the crate's sources, so the tutorial's code is code that compiles.

const TUTORIAL: &str = include_str!("../../../docs/writing-a-provider.md");

const SOURCES: [&str; 4] = [
    include_str!("../src/lib.rs"),
    include_str!("../src/provider.rs"),
    include_str!("../src/bin/hello-vfs.rs"),
    include_str!("../Cargo.toml"),
];

/// The bodies of the fenced blocks whose info string is `language`.
fn fenced_blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start().starts_with("```");
        match current.as_mut() {
            None if fence && line.trim_start().trim_start_matches('`') == language => {
                current = Some(String::new());
            }
            None => {}
            Some(_) if fence => {
                blocks.extend(current.take());
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn every_code_snippet_of_the_tutorial_is_in_the_example() {
    let mut checked = 0;
    for language in ["rust", "toml"] {
        for block in fenced_blocks(TUTORIAL, language) {
            assert!(
                SOURCES.iter().any(|source| source.contains(&block)),
                "this {language} snippet of docs/writing-a-provider.md is not in \
                 examples/hello-provider:\n{block}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "only {checked} snippets found: is the tutorial still there?"
    );
}
