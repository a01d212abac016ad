// The C shim for the variadic hooks (fcntl, fcntl64, ioctl).
fn main() {
    println!("cargo:rerun-if-changed=shim/forward.c");
    cc::Build::new().file("shim/forward.c").flag_if_supported("-fvisibility=hidden").compile("utcpshim");
}
