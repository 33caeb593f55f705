# easyTDV: fetch the run's instance scripts from s3://$EASYTDV_BUCKET/$EASYTDV_PREFIX/scripts/,
# check each against the SHA-256 the app put in this command, then run one. A copy already in
# $EASYTDV_HOME/lib that matches is not fetched again; nothing that does not match is run.
# (The core sends this as an SSM command after one line of exports; POSIX sh, as SSM may use sh.)
lib="${EASYTDV_HOME:-/opt/easytdv}/lib"
src="${EASYTDV_PREFIX%/}/scripts"
mkdir -p "$lib/.fetched" || exit 80
sum() { sha256sum "$1" 2>/dev/null | cut -d ' ' -f 1; }
fetch() { # the helper, checked first, fetches the others (no AWS CLI start); else the AWS CLI
    if [ "$1" != easytdv_helper.py ] && command -v python3 >/dev/null 2>&1 \
        && python3 "$lib/easytdv_helper.py" get "s3://$EASYTDV_BUCKET/$src/$1" "$lib/.fetched/$1" 2>/dev/null; then
        return 0
    fi
    aws s3api get-object --bucket "$EASYTDV_BUCKET" --key "$src/$1" \
        --expected-bucket-owner "$EASYTDV_BUCKET_OWNER" "$lib/.fetched/$1" >/dev/null
}
while read -r want name; do
    [ "$(sum "$lib/$name")" = "$want" ] && continue
    rm -f "$lib/.fetched/$name"
    if ! fetch "$name"; then
        echo "easytdv: could not download the script s3://$EASYTDV_BUCKET/$src/$name" >&2
        exit 80
    fi
    got="$(sum "$lib/.fetched/$name")"
    if [ "$got" != "$want" ]; then
        rm -f "$lib/.fetched/$name"
        echo "easytdv: s3://$EASYTDV_BUCKET/$src/$name is not the script easyTDV sent" \
            "(SHA-256 ${got:-none}, expected $want): it was not run" >&2
        exit 80
    fi
    mv -f "$lib/.fetched/$name" "$lib/$name" || exit 80
done <<'EASYTDV_SUMS'
__SUMS__
EASYTDV_SUMS
exec bash "$lib/__RUN__"
