DROP TABLE guardian_secrets, plaintext_results, compensated_shares, decryption_shares,
    spoiled_selections, decryption_objects, tally_subtotals, invalid_ballots, ballots, guardians, elections;
