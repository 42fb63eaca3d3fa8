namespace DeepSeekV3.Evaluation;

/// <summary>
/// The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", §2.1):
/// with n samples of which c pass, pass@k = 1 − C(n−c, k) / C(n, k), the chance that k samples drawn without
/// replacement from the n contain at least one that passes. Computed as the product
/// 1 − Π_{i=n−c+1}^{n} (1 − k/i), which equals the ratio of binomials without forming them (they overflow for
/// n in the hundreds).
/// </summary>
public static class PassAtK
{
    public static double Estimate(int n, int c, int k)
    {
        if (n < 1 || c < 0 || c > n)
            throw new InvalidArgumentException($"pass@k: {c} correct of {n} samples; need n ≥ 1 and 0 ≤ c ≤ n");
        if (k < 1 || k > n)
            throw new InvalidArgumentException($"pass@{k} needs 1 ≤ k ≤ n = {n} samples per task");
        // Fewer than k failing samples: every draw of k contains a passing one.
        if (n - c < k) return 1.0;
        double allFail = 1.0;
        for (int i = n - c + 1; i <= n; i++)
            allFail *= 1.0 - (double)k / i;
        return 1.0 - allFail;
    }
}
