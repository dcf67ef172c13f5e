#!/bin/sh
# skbuild key: generated keys (encrypted or not, password from the environment
# or a terminal prompt), never overwritten, readable by openssl; key formats
# from elsewhere load or are refused with a clear message.
. "$(dirname "$0")/../lib.sh"
KEYS=$SK_ROOT/tests/trust/keys
PTY=$SK_ROOT/tests/trust/pty_password.py

if [ ! -x "$SKBUILD" ]; then
	fail "skbuild present" "$SKBUILD is missing (make)"
	exit 1
fi
cd "$T" || exit 1
unset SKBUILD_KEY_PASSWORD

check "key --help" "$SKBUILD" key --help
cp "$T/out" last
check "key --help documents generate" grep -q 'skbuild key generate \[-o PREFIX\]' last
check "key generate --help" "$SKBUILD" key generate --help
check "skbuild --help lists key" sh -c "'$SKBUILD' --help | grep -q '^  key '"

check "generate encrypted (SKBUILD_KEY_PASSWORD)" \
	env SKBUILD_KEY_PASSWORD=pw-from-env "$SKBUILD" key generate -o "$T/enc"
cp "$T/out" last
check "generate output names the files, not the key" sh -c "grep -q 'wrote $T/enc.key (encrypted)' last && ! grep -q 'PRIVATE' last"
check "private key mode is 0600" test "$(stat -c %a enc.key)" = 600
check "public key mode is 0644" test "$(stat -c %a enc.pub)" = 644
check "private key is encrypted PKCS#8" grep -q '^-----BEGIN ENCRYPTED PRIVATE KEY-----$' enc.key
check "PBES2: PBKDF2-HMAC-SHA256, 600000 rounds, AES-256-CBC" sh -c "openssl asn1parse -in enc.key >asn1 &&
	grep -q ':PBKDF2' asn1 && grep -q 'INTEGER *:0927C0' asn1 && grep -q ':hmacWithSHA256' asn1 && grep -q ':aes-256-cbc' asn1"
check "public key is a PUBLIC KEY PEM" grep -q '^-----BEGIN PUBLIC KEY-----$' enc.pub
check "openssl decrypts it with the password" \
	sh -c "openssl pkey -in enc.key -passin pass:pw-from-env -pubout >enc.openssl.pub"
check "openssl's public key is the .pub" cmp enc.openssl.pub enc.pub
check "it is ECDSA P-256" sh -c "openssl pkey -in enc.key -passin pass:pw-from-env -noout -text | grep -q 'NIST CURVE: P-256'"
check_fails "openssl refuses a wrong password (the encryption is real)" 'bad decrypt|unable to load|Could not' \
	openssl pkey -in enc.key -passin pass:wrong -noout

cp enc.key enc.key.before
check_fails "generate refuses to overwrite" 'enc.key already exists; refusing to overwrite' \
	env SKBUILD_KEY_PASSWORD=other "$SKBUILD" key generate -o "$T/enc"
check "the existing key is untouched" cmp enc.key enc.key.before
rm enc.key
check_fails "generate refuses when only the .pub exists" 'enc.pub already exists' \
	env SKBUILD_KEY_PASSWORD=other "$SKBUILD" key generate -o "$T/enc"
check "and writes no .key then" test ! -e enc.key
check_fails "generate into a missing directory" 'cannot create' \
	env SKBUILD_KEY_PASSWORD=x "$SKBUILD" key generate -o "$T/no/such/dir/k"

check "generate unencrypted (empty SKBUILD_KEY_PASSWORD)" \
	env SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o "$T/plain"
cp "$T/out" last
check "says it is not encrypted" grep -q 'NOT encrypted' last
check "unencrypted key is PKCS#8" grep -q '^-----BEGIN PRIVATE KEY-----$' plain.key
check "no terminal and no variable: unencrypted" sh -c "'$SKBUILD' key generate -o '$T/quiet' </dev/null && grep -q 'BEGIN PRIVATE KEY' '$T/quiet.key'"
check "default prefix is schedkit" sh -c "SKBUILD_KEY_PASSWORD= '$SKBUILD' key generate && test -f schedkit.key -a -f schedkit.pub"

check "prompt on a terminal, asked twice" python3 "$PTY" tty-pass tty-pass -- "$SKBUILD" key generate -o "$T/tty"
cp "$T/out" last
check "the prompt asked again" grep -q 'Again:' last
check "the password was not echoed" sh -c "! grep -q 'tty-pass' last"
check "the prompted password encrypts the key" openssl pkey -in tty.key -passin pass:tty-pass -noout
check_fails "two different passwords" 'the two passwords differ; nothing written' \
	python3 "$PTY" one two -- "$SKBUILD" key generate -o "$T/tty2"
check "nothing written after a mismatch" test ! -e tty2.key -a ! -e tty2.pub
check "key public asks for the password on a terminal" sh -c "python3 '$PTY' tty-pass -- '$SKBUILD' key public tty.key | grep -q 'BEGIN PUBLIC KEY'"

# Keys made elsewhere.
check "EC key from openssl ecparam -genkey (SEC1 + EC PARAMETERS)" \
	sh -c "'$SKBUILD' key public '$KEYS/ec-sec1.pem' </dev/null | cmp - '$KEYS/ec-sec1.pub'"
check "PKCS#8 EC key" sh -c "'$SKBUILD' key public '$KEYS/ec-pkcs8.pem' </dev/null | cmp - '$KEYS/ec-pkcs8.pub'"
check "encrypted PKCS#8 EC key" sh -c "SKBUILD_KEY_PASSWORD=fixture-password '$SKBUILD' key public '$KEYS/ec-pkcs8-enc.pem' | cmp - '$KEYS/ec-pkcs8.pub'"
check_fails "encrypted PKCS#8 with a wrong password" 'ec-pkcs8-enc.pem: cannot decrypt the key: wrong password' \
	env SKBUILD_KEY_PASSWORD=nope "$SKBUILD" key public "$KEYS/ec-pkcs8-enc.pem"
check_fails "encrypted key without a password" 'the key is encrypted; set SKBUILD_KEY_PASSWORD' \
	sh -c "'$SKBUILD' key public '$KEYS/ec-pkcs8-enc.pem' </dev/null"
check "Ed25519 key" sh -c "'$SKBUILD' key public '$KEYS/ed25519.pem' </dev/null | cmp - '$KEYS/ed25519.pub'"
check_fails "RSA key refused" 'unsupported key type RSA; use an ECDSA P-256 or Ed25519 key' \
	"$SKBUILD" key public "$KEYS/rsa.pem"
check_fails "P-384 key refused" 'unsupported key type ECDSA secp384r1' \
	"$SKBUILD" key public "$KEYS/ec384.pem"
