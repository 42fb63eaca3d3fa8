namespace DeepSeekV3.Precision;

/// <summary>
/// The accumulation an FP8 GEMM emulates (report §3.3.2 "Increasing Accumulation Precision", Fig. 7b). H800 tensor
/// cores add FP8 products into an accumulator that keeps only about 14 significant bits (SageAttention2, arXiv
/// 2411.10958, measured it as FP22: 8 exponent and 13 stored mantissa bits), truncating the rest; over K = 4096 the
/// report saw errors near 2%. The fix: every N_C = 128 elements of K, copy the partial sums to FP32 registers,
/// multiply them there by the tiles' scales and add them to an FP32 accumulator ("promotion").
/// </summary>
public sealed record Fp8Accumulation
{
    /// <summary>Significant bits (implicit bit included) the tensor cores' accumulator keeps; 24 = exact FP32.</summary>
    public int AccumulatorBits { get; init; } = 14;

    /// <summary>Products one tensor-core instruction sums before adding to the accumulator (WGMMA's K for FP8: 32).</summary>
    public int InstructionK { get; init; } = 32;

    /// <summary>N_C: elements of K between promotions to FP32; 0 = never (the whole K in the tensor-core accumulator).</summary>
    public int PromotionInterval { get; init; } = 128;

    /// <summary>The report's recipe: ~14-bit accumulator, promotion every 128 elements.</summary>
    public static Fp8Accumulation Promoted { get; } = new();

    /// <summary>The problem the recipe fixes: the whole K accumulated at ~14 bits.</summary>
    public static Fp8Accumulation WithoutPromotion { get; } = new() { PromotionInterval = 0 };

    /// <summary>Checks the combination; the message names the field and the rule.</summary>
    public void Validate()
    {
        if (AccumulatorBits is < 2 or > 24)
            throw new QuantizationException($"fp8 accumulation: AccumulatorBits must be in 2..24, found {AccumulatorBits}");
        if (InstructionK <= 0 || TileQuantization.GroupSize % InstructionK != 0)
            throw new QuantizationException($"fp8 accumulation: InstructionK must divide {TileQuantization.GroupSize}, found {InstructionK}");
        bool divides = PromotionInterval > 0 && TileQuantization.GroupSize % PromotionInterval == 0;
        bool multiple = PromotionInterval > 0 && PromotionInterval % TileQuantization.GroupSize == 0;
        if (PromotionInterval < 0 || (PromotionInterval > 0 && (!divides && !multiple || PromotionInterval % InstructionK != 0)))
            throw new QuantizationException(
                $"fp8 accumulation: PromotionInterval must be 0 (never), or a multiple of InstructionK ({InstructionK}) that divides " +
                $"or is a multiple of {TileQuantization.GroupSize}, found {PromotionInterval}");
    }
}
