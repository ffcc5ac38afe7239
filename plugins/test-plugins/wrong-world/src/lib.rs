//! Exports `run` instead of `describe`/`process`.

wit_bindgen::generate!({
    inline: "package test:wrong; world other { export run: func() -> u32; }",
});

struct Wrong;

impl Guest for Wrong {
    fn run() -> u32 {
        42
    }
}

export!(Wrong);
