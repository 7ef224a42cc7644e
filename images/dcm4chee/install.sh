#!/bin/sh
# Build-time install of dcm4chee from the files in $1 (the `downloads` build context):
# dcm4chee.zip, jboss.zip, jre.tar.gz and, where NATIVE_JPEG2000=true, libclib_jiio.so.
set -eu
downloads=$1
home=${DCM4CHEE_HOME:?}

fail() { echo "dcm4chee install: $*" >&2; exit 1; }
for file in dcm4chee.zip jboss.zip jre.tar.gz; do
    [ -f "$downloads/$file" ] || fail "$file is missing from the downloads context"
done

mkdir -p "$JAVA_HOME"
tar -xzf "$downloads/jre.tar.gz" -C "$JAVA_HOME" --strip-components=1 --no-same-owner
"$JAVA_HOME/bin/java" -version

work=$(mktemp -d)
unzip -q "$downloads/dcm4chee.zip" -d "$work/dcm4chee"
unzip -q "$downloads/jboss.zip" -d "$work/jboss"
mv "$work"/dcm4chee/dcm4chee-* "$home"
# dcm4chee's own script merges JBoss into its tree.
sh "$home/bin/install_jboss.sh" "$work"/jboss/jboss-4.2.3.GA
rm -rf "$work"

native="$home/bin/native/libclib_jiio.so"
if [ "$NATIVE_JPEG2000" = true ]; then
    [ -f "$downloads/libclib_jiio.so" ] || fail "NATIVE_JPEG2000=true but libclib_jiio.so is missing"
    # The one dcm4chee ships is a 32-bit i586 build; replace it with the x86-64 one.
    install -m 0755 "$downloads/libclib_jiio.so" "$native"
    : >"$home/bin/codec-java-opts"
else
    # No native codec library exists for this arch: JAI ImageIO must not look for one.
    rm -f "$native"
    echo "-Dcom.sun.media.imageio.disableCodecLib=true" >"$home/bin/codec-java-opts"
fi

# The datasource is rendered from MYSQL_* at every start; keep the shipped one as template.
ds="$home/server/default/deploy/pacs-mysql-ds.xml"
[ -f "$ds" ] || fail "$ds is missing: is dcm4chee.zip the -mysql distribution?"
mkdir -p /usr/local/share/dcm4chee
cp "$ds" /usr/local/share/dcm4chee/pacs-mysql-ds.xml

touch /crontab_file
chmod 0755 /usr/local/lib/dcm4chee
