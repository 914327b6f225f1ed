//! Compiles the .proto files with protox (pure Rust), so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["whetstone/v1/whetstone.proto"];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["."])?;
    // No generated `connect` constructor: it would clash with the `Worker.Connect` RPC.
    tonic_prost_build::configure().build_client(true).build_server(true).build_transport(false).compile_fds(descriptors)?;
    Ok(())
}
