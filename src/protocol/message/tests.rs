use super::*;

#[test]
fn transfer_keeps_spaces_in_file_name() {
    let r = Request::parse("TRANSFER RETRIEVE SHA256E-s1--ab.txt /tmp/a b  c").unwrap();
    assert_eq!(
        r,
        Request::Transfer {
            direction: Direction::Retrieve,
            key: "SHA256E-s1--ab.txt".into(),
            file: "/tmp/a b  c".into()
        }
    );
}
