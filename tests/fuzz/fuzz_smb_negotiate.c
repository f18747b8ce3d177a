/* libFuzzer target: smb_probe_parse_response, what a server sends to the SMB store's probe.
 * Never reads past the input; returns 0 or -1; on 0 the dialect is one the probe offers and
 * encryption is claimed only for SMB 3.x; on -1 the message says why. */
#include "fuzz.h"
#include "store/smb_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly SIZE octets: ASan sees any read past the end */
    unsigned char *msg = malloc(size ? size : 1);
    struct smb_server_facts facts;
    struct errbuf err = {""};
    int rc;

    FUZZ_CHECK(msg != NULL);
    memcpy(msg, data, size);
    rc = smb_probe_parse_response(msg, size, &facts, &err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(facts.dialect == SMB2_DIALECT_202 || facts.dialect == SMB2_DIALECT_210 ||
                   facts.dialect == SMB2_DIALECT_300 || facts.dialect == SMB2_DIALECT_302 ||
                   facts.dialect == SMB2_DIALECT_311);
        FUZZ_CHECK(!facts.can_encrypt || facts.dialect >= SMB2_DIALECT_300);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    free(msg);
    return 0;
}
