// The results folder: the journal keeps every finished row across crashes (a partial last
// line is cut off and reported, a corrupt complete line stops the load with file:line, a
// failed append leaves the file as it was), and the tables computed from the rows.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/scratch_files.hpp"
#include "tessera/experiments/results_journal.hpp"
#include "tessera/experiments/results_tables.hpp"

namespace tessera::experiments {
namespace {

namespace fs = std::filesystem;

using tessera::testing::fresh_folder;
using tessera::testing::read_text;

ResultRow row(const std::string& id, double top1) { return {{"point_id", id}, {"top1", top1}}; }

TEST(ResultsJournal, RowsSurviveReopeningAndComeFromEveryJournalOfTheFolder) {
  const fs::path folder = fresh_folder("results_reopen");
  {
    ResultsJournal journal(folder, "points.jsonl");
    journal.append(row("a", 0.5));
    journal.append(row("b", 0.25));
  }
  {
    ResultsJournal shard(folder, "points.shard-1-of-2.jsonl");
    EXPECT_EQ(shard.rows().size(), 2u);
    shard.append(row("c", 0.125));
  }
  ResultsJournal journal(folder, "points.jsonl");
  ASSERT_EQ(journal.rows().size(), 3u);
  EXPECT_DOUBLE_EQ(journal.rows().at("c")["top1"].get<double>(), 0.125);
  EXPECT_TRUE(journal.repairs().empty());
  EXPECT_EQ(read_text(folder / "points.jsonl"),
            "{\"point_id\":\"a\",\"top1\":0.5}\n{\"point_id\":\"b\",\"top1\":0.25}\n");
}

TEST(ResultsJournal, APartialLastRowIsCutOffReportedAndRecomputable) {
  const fs::path folder = fresh_folder("results_partial");
  {
    ResultsJournal journal(folder, "points.jsonl");
    journal.append(row("a", 0.5));
  }
  {
    std::ofstream out(folder / "points.jsonl", std::ios::app | std::ios::binary);
    out << "{\"point_id\":\"b\",\"to";  // the process died mid-write
  }
  ResultsJournal journal(folder, "points.jsonl");
  EXPECT_EQ(journal.rows().size(), 1u);
  EXPECT_FALSE(journal.contains("b"));
  ASSERT_EQ(journal.repairs().size(), 1u);
  EXPECT_NE(journal.repairs()[0].find("points.jsonl:2: dropped a partial row (19 bytes)"), std::string::npos)
      << journal.repairs()[0];
  journal.append(row("b", 0.75));
  EXPECT_EQ(read_text(folder / "points.jsonl"),
            "{\"point_id\":\"a\",\"top1\":0.5}\n{\"point_id\":\"b\",\"top1\":0.75}\n");
}

TEST(ResultsJournal, ACorruptCompleteLineStopsTheLoadWithFileAndLine) {
  const fs::path folder = fresh_folder("results_corrupt");
  fs::create_directories(folder);
  std::ofstream(folder / "points.jsonl") << "{\"point_id\":\"a\"}\n{\"point_id\":\"b\" oops}\n";
  try {
    ResultsJournal journal(folder, "points.jsonl");
    FAIL() << "a corrupt line was read silently";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("points.jsonl:2: not a result row"), std::string::npos) << error.what();
  }
  std::ofstream(folder / "points.jsonl") << "[1, 2]\n";
  EXPECT_THROW(ResultsJournal(folder, "points.jsonl"), std::runtime_error);
}

TEST(ResultsJournal, AnOutputFolderThatCannotBeCreatedIsRefusedUpFront) {
  const fs::path folder = fresh_folder("results_blocked");
  fs::create_directories(folder);
  std::ofstream(folder / "a_file") << "x";
  try {
    ResultsJournal journal(folder / "a_file" / "results", "points.jsonl");
    FAIL() << "no error for an output folder below a file";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot create the output folder"), std::string::npos) << error.what();
  }
}

TEST(ResultsJournal, AnAppendTheDiskRefusesLeavesTheJournalAsItWas) {
  // A file-size limit makes write() fail with EFBIG, as a full disk fails with ENOSPC.
  const fs::path folder = fresh_folder("results_full");
  ResultsJournal journal(folder, "points.jsonl");
  journal.append(row("a", 0.5));
  const std::string before = read_text(folder / "points.jsonl");

  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &original), 0);
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = original;
  small.rlim_cur = before.size() + 16;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  ResultRow big = row("b", 0.25);
  big["padding"] = std::string(200, 'x');
  EXPECT_THROW(journal.append(big), std::runtime_error);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &original), 0);
  std::signal(SIGXFSZ, previous_handler);

  EXPECT_EQ(read_text(folder / "points.jsonl"), before);
  EXPECT_FALSE(journal.contains("b"));
  journal.append(row("b", 0.25));  // works again once there is room
  EXPECT_TRUE(ResultsJournal(folder, "points.jsonl").contains("b"));
}

// Shards of one sweep rewrite results.csv at the same time; every write must succeed and the
// file must always be one writer's whole text.
TEST(ResultsJournal, ProcessesWritingOneFileAtOnceNeverFail) {
  const fs::path folder = fresh_folder("results_concurrent");
  fs::create_directories(folder);
  const fs::path path = folder / "results.csv";
  const std::string texts[] = {std::string(100000, 'a'), std::string(50000, 'b')};
  pid_t children[2] = {};
  for (int c = 0; c < 2; ++c) {
    children[c] = ::fork();
    ASSERT_GE(children[c], 0);
    if (children[c] == 0) {
      try {
        for (int i = 0; i < 200; ++i) write_file_atomically(path, texts[c]);
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  const std::string final_text = tessera::testing::read_text(path);
  EXPECT_TRUE(final_text == texts[0] || final_text == texts[1]) << final_text.size();
  EXPECT_EQ(std::distance(fs::directory_iterator(folder), fs::directory_iterator()), 1);  // no temporaries left
}

TEST(ResultsTables, CsvQuotesWhatNeedsQuotingAndLeavesMissingCellsEmpty) {
  const std::vector<ResultRow> rows{
      {{"hardware", "pcm"}, {"top1", 0.5}, {"note", "a, \"b\""}},
      {{"hardware", "int8"}, {"top1", 1}, {"extra", true}},
  };
  EXPECT_EQ(to_csv(rows, {"seed", "hardware"}),
            "seed,hardware,top1,note,extra\n"
            ",pcm,0.5,\"a, \"\"b\"\"\",\n"
            ",int8,1,,true\n");
}

TEST(ResultsTables, AggregateGivesMeanSampleStdAndStudentInterval) {
  std::vector<ResultRow> rows;
  const double top1[] = {0.5, 0.7, 0.9};
  for (int seed = 0; seed < 3; ++seed) {
    rows.push_back({{"hardware", "pcm"}, {"t", 0}, {"seed", seed}, {"top1", top1[seed]}, {"seconds", 1.0}});
  }
  rows.push_back({{"hardware", "int8"}, {"t", 0}, {"seed", 0}, {"top1", 0.8}, {"seconds", 1.0}});
  for (int seed = 0; seed < 3; ++seed) {
    rows.push_back({{"hardware", "int4"}, {"t", 0}, {"seed", seed}, {"top1", 0.1}, {"seconds", 1.0}});
  }
  const auto aggregated = aggregate_over_seeds(rows, {"hardware", "t"}, {"seed", "seconds"});
  ASSERT_EQ(aggregated.size(), 3u);
  // Equal values (a digital point over seeds): exactly no spread, not a rounding residue.
  EXPECT_EQ(aggregated[2]["top1_std"].get<double>(), 0.0);
  EXPECT_EQ(aggregated[2]["top1_ci95"].get<double>(), 0.0);
  const ResultRow& pcm = aggregated[0];
  EXPECT_EQ(pcm["hardware"], "pcm");
  EXPECT_EQ(pcm["n_seeds"], 3);
  EXPECT_NEAR(pcm["top1_mean"].get<double>(), 0.7, 1e-12);
  EXPECT_NEAR(pcm["top1_std"].get<double>(), 0.2, 1e-12);
  EXPECT_NEAR(pcm["top1_ci95"].get<double>(), 4.302653 * 0.2 / std::sqrt(3.0), 1e-9);
  EXPECT_FALSE(pcm.contains("seconds_mean"));
  EXPECT_FALSE(pcm.contains("seed_mean"));
  const ResultRow& int8 = aggregated[1];
  EXPECT_EQ(int8["n_seeds"], 1);
  EXPECT_DOUBLE_EQ(int8["top1_mean"].get<double>(), 0.8);
  EXPECT_TRUE(int8["top1_std"].is_null());  // one seed: no spread to report
}

TEST(ResultsTables, StudentQuantilesMatchTheDistribution) {
  // t_{0.975} quantiles (R: qt(0.975, dof)).
  const std::vector<std::pair<int, double>> exact{{1, 12.706205}, {2, 4.302653},   {5, 2.570582},   {9, 2.262157},
                                                  {10, 2.228139}, {20, 2.085963},  {30, 2.042272},  {40, 2.021075},
                                                  {60, 2.000298}, {120, 1.979930}, {1000, 1.962339}};
  for (const auto& [dof, quantile] : exact) EXPECT_NEAR(student_t_975(dof), quantile, 2e-5) << dof;
  EXPECT_TRUE(std::isnan(student_t_975(0)));
}

}  // namespace
}  // namespace tessera::experiments
