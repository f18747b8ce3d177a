/* libFuzzer target: smb_location_parse, smb_location_display and smb_location_url on any text
 * (a location comes from the command line and ccs.conf). A parsed location has a server and a
 * share, a folder without empty, "." or ".." parts, and a URL that fits or is refused; a message
 * or a display name never holds what stood before an '@' in the server part. */
#include "fuzz.h"
#include "store/smb_location.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), shown[512], url[4096];
    struct smb_location loc;
    struct errbuf err = {""};

    smb_location_display(text, shown, sizeof(shown));
    if (smb_location_parse(text, &loc, &err) == 0) {
        FUZZ_CHECK(loc.host[0] != '\0' && loc.share[0] != '\0');
        FUZZ_CHECK(loc.port >= 1 && loc.port <= 65535);
        FUZZ_CHECK(!strstr(loc.dir, "//") && loc.dir[0] != '/');
        FUZZ_CHECK(strcmp(loc.dir, "..") != 0 && strncmp(loc.dir, "../", 3) != 0 &&
                   !strstr(loc.dir, "/../") && !strstr(loc.dir, "/./"));
        FUZZ_CHECK(strcspn(loc.host, "@/\\%?#") == strlen(loc.host)); /* no URL syntax */
        (void)smb_location_url(&loc, "x.example.pfx", url, sizeof(url));
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    free(text);
    return 0;
}
