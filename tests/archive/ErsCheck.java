// Independent check of RFC 4998 evidence records with BouncyCastle's ERS API (bcpkix 1.72).
//
// java -cp bcpkix.jar:bcprov.jar:bcutil.jar ErsCheck.java TSA.pem RECORD.ers=DATA1[,DATA2...] ...
//
// For each record: parse it (ERSEvidenceRecord), check every data object is present
// (validatePresent with ERSByteData, which for a record with several chains hashes the object
// as H(H(d) || H(earlier chains)) per RFC 4998 §5.2), check a multi-object group as a whole
// (ERSDataGroup), and validate the last chain's timestamps with the TSA certificate
// (ERSEvidenceRecord.validate: the token's CMS signature, and that the last archive timestamp
// covers the earlier timeStamps of its chain). Prints "OK path" or "FAIL path: reason" per
// record; exits 1 if any failed.
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Security;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.ers.ERSByteData;
import org.bouncycastle.tsp.ers.ERSData;
import org.bouncycastle.tsp.ers.ERSDataGroup;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;

public class ErsCheck {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        X509Certificate tsaCert;
        try (FileInputStream in = new FileInputStream(args[0])) {
            tsaCert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        DigestCalculatorProvider digests = new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
        SignerInformationVerifier verifier = new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(tsaCert);
        Date farFuture = new Date(4102444800000L); // 2100-01-01: our test TSA runs years ahead
        boolean failed = false;
        for (int i = 1; i < args.length; i++) {
            String[] parts = args[i].split("=", 2);
            try {
                ERSEvidenceRecord record = new ERSEvidenceRecord(Files.readAllBytes(Path.of(parts[0])), digests);
                List<ERSData> members = new ArrayList<>();
                for (String file : parts[1].split(",")) {
                    ERSByteData data = new ERSByteData(Files.readAllBytes(Path.of(file)));
                    members.add(data);
                    record.validatePresent(data, farFuture);
                }
                if (members.size() > 1) {
                    record.validatePresent(new ERSDataGroup(members), farFuture);
                }
                record.validate(verifier);
                System.out.println("OK " + parts[0]);
            } catch (Exception e) {
                failed = true;
                System.out.println("FAIL " + parts[0] + ": " + e);
            }
        }
        System.exit(failed ? 1 : 0);
    }
}
