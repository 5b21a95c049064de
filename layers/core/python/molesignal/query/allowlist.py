"""Functions a tenant query may call: pure scalar, aggregate and window functions.

Anything that reads files, lists directories, reaches the network, reads the environment
or the catalogue (``read_parquet``, ``glob``, ``getenv``, ``query``, ``duckdb_*``,
``pragma_*`` ...) is absent, so it is refused before the engine sees it.
"""

from __future__ import annotations

# sqlglot expression classes (by name) for functions it parses into typed nodes.
_TYPED_NAMES = (
    "Abs Acos All Anonymous Any AnyValue ApproxDistinct ApproxQuantile ArgMax ArgMin Array ArrayAgg ArrayConcat",
    "ArrayContains ArrayDistinct ArrayFilter ArrayJoin ArraySize ArraySlice ArrayToString ArrayUniqueAgg Ascii",
    "Asin Atan Atan2 Avg Between BitLength BitwiseAndAgg BitwiseOrAgg BitwiseXorAgg Bracket ByteLength Case Cast",
    "Cbrt Ceil Chr Coalesce Concat ConcatWs Contains Corr Cos Cot Count CountIf CovarPop CovarSamp CumeDist",
    "CurrentDate CurrentTime CurrentTimestamp Date DateAdd DateBin DateDiff DatePart DateSub DateTrunc Day",
    "DayOfMonth DayOfWeek DayOfYear Degrees DenseRank Distinct EndsWith EpochMs Exists Exp Explode",
    "ExplodingGenerateSeries Extract Filter First FirstValue Flatten Floor Format GenerateSeries Greatest",
    "GroupConcat Hex Hour If In Initcap Interval IsInf IsNan JSONArrayLength JSONExtract JSONExtractArray",
    "JSONExtractScalar JSONFormat JSONType Kurtosis Lag Last LastDay LastValue Lead Least Left Length Levenshtein",
    "Ln Log Log10 Log2 LogicalAnd LogicalOr Lower Lpad MD5 MakeInterval Map Max Median Min Minute Mod Mode Month",
    "NTile NthValue Nullif Pad ParseJSON PercentRank PercentileCont PercentileDisc Pi Pow Quantile Quarter Radians",
    "Rank RegexpExtract RegexpExtractAll RegexpFullMatch RegexpILike RegexpLike RegexpReplace RegexpSplit Repeat",
    "Replace Reverse",
    "Right Round RowNumber Rpad SHA SHA2 SafeDivide Second Sign Sin Skewness Sort SortArray Split SplitPart Sqrt",
    "StartsWith Stddev StddevPop StddevSamp StrPosition StrToDate StrToTime Struct StructExtract Substring Sum Tan",
    "TimeAdd TimeSub TimeToStr TimeToUnix Timestamp TimestampAdd TimestampDiff TimestampSub TimestampTrunc ToArray",
    "ToDays Translate Trim Trunc TryCast TsOrDsAdd TsOrDsToDate Unhex UnixMicros UnixMillis UnixSeconds UnixToStr",
    "UnixToTime Unnest Upper Uuid Variance VariancePop WeekOfYear Year",
)

# Lower-cased names of functions sqlglot leaves as Anonymous (DuckDB built-ins).
_ANONYMOUS_NAMES = (
    "abs age any_value approx_count_distinct approx_quantile arg_max arg_min array_agg array_contains array_length",
    "array_position array_slice array_to_string bit_count bit_length bool_and bool_or cbrt ceil ceiling century",
    "coalesce concat concat_ws contains corr count_if covar_pop covar_samp cume_dist damerau_levenshtein date_add",
    "date_diff date_part date_sub date_trunc datediff datepart day dayname dayofmonth dayofweek dayofyear decade",
    "degrees dense_rank editdist3 ends_with entropy epoch epoch_ms epoch_ns epoch_us even exp extract factorial",
    "favg first first_value floor format from_base64 from_hex fsum gcd gen_random_uuid generate_series greatest",
    "group_concat hamming hash hex histogram hour if ifnull iif instr isfinite isinf isnan isodow isoyear jaccard",
    "jaro_similarity jaro_winkler_similarity json_array_length json_extract json_extract_path",
    "json_extract_path_text json_extract_string json_keys json_type json_valid json_value kurtosis lag last",
    "last_day last_value lcase lcm lead least left len length levenshtein list list_aggregate list_contains",
    "list_distinct list_extract list_has list_sort list_unique list_value ln log log10 log2 lower lpad ltrim mad",
    "make_date make_time make_timestamp max_by md5 microsecond millennium millisecond min_by minute mismatches",
    "mode month monthname nanosecond nextafter nth_value ntile nullif octet_length percent_rank pi position pow",
    "power prefix printf product quantile_cont quantile_disc quarter radians range rank regexp_extract",
    "regexp_full_match regexp_matches regexp_replace regexp_split_to_array regr_intercept regr_slope repeat",
    "replace reservoir_quantile reverse right round row_number rpad rtrim second sha256 sign skewness split_part",
    "sqrt starts_with stddev stddev_pop stddev_samp strftime string_agg string_split string_split_regex strlen",
    "strptime suffix sum_no_overflow time_bucket to_base64 to_days to_hex to_hours to_microseconds to_milliseconds",
    "to_minutes to_months to_seconds to_timestamp to_years trim try_cast typeof ucase unhex unnest upper",
    "url_decode url_encode uuid var_pop var_samp variance week weekday weekofyear year yearweek",
)

# Boolean connectors: sqlglot models AND and OR as functions, but they are plain operators.
_CONNECTORS = ("And", "Or")

TYPED = frozenset(" ".join(_TYPED_NAMES).split()) | frozenset(_CONNECTORS)
ANONYMOUS = frozenset(" ".join(_ANONYMOUS_NAMES).split())

# Table-producing functions a query may use in FROM (all pure: they read no data).
TABLE_FUNCTIONS = frozenset({"unnest", "generate_series", "range"})
