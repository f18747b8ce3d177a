/* libFuzzer target: pfx_decode on any bytes (a PFX comes from a store file anyone with write access
 * to the share can put there, and from `ccs deploy --pfx`). Every status has its text and an
 * error message; a decoded file has a certificate, a chain, and a key that is the leaf's when it
 * says so. Iteration counts are bounded by pfx.h's limits, so no input costs more than about a
 * second (the test's -timeout is 5 s). */
#include "fuzz.h"
#include "store/pfx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct pfx_decoded dec;
    struct errbuf err = {""};
    enum pfx_status st;

    if (!ready) {
        FUZZ_CHECK(pfx_crypto_init(&err) == 0);
        ready = 1;
    }
    /* "pw": what the seed files are encrypted under; "" also tries the no-password convention. */
    for (int i = 0; i < 2; i++) {
        err.msg[0] = '\0';
        st = pfx_decode(data, size, i ? "" : "pw", &dec, &err);
        FUZZ_CHECK(pfx_status_text(st)[0] != '\0');
        if (st != PFX_OK) {
            FUZZ_CHECK(err.msg[0] != '\0');
            continue;
        }
        FUZZ_CHECK(dec.bundle.cert != NULL && dec.bundle.chain != NULL);
        FUZZ_CHECK(!dec.key_matches || dec.bundle.key != NULL);
        FUZZ_CHECK(dec.pairing != PFX_PAIRED || dec.key_matches);
        FUZZ_CHECK(dec.key_count >= (dec.bundle.key != NULL));
        FUZZ_CHECK(memchr(dec.algorithms, '\0', sizeof(dec.algorithms)) != NULL);
        pfx_decoded_free(&dec);
    }
    return 0;
}
