//! libtorch is linked and usable from the test binaries (set-up problems surface here first).

#[test]
fn libtorch_builds_a_tensor_on_cpu() {
    assert_eq!(tuneprint::model::libtorch_smoke(), 6.5);
}
