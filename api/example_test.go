package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"
)

// jobProgress is the part of GET /api/jobs/{jobId}/status that a progress
// bar needs.
type jobProgress struct {
	JobID           string   `json:"jobId"`
	Status          string   `json:"status"`
	TotalChunks     int      `json:"totalChunks"`
	ProcessedChunks int      `json:"processedChunks"`
	FailedChunks    int      `json:"failedChunks"`
	ProgressPercent float64  `json:"progressPercent"`
	ErrorMessage    *string  `json:"errorMessage"`
	EtaSeconds      *float64 `json:"etaSeconds"`
}

// terminal reports whether the job will change no more by itself.
func (p jobProgress) terminal() bool {
	return p.Status == "COMPLETED" || p.Status == "FAILED" || p.Status == "CANCELLED"
}

// waitForJob polls the job's status every interval, calling onProgress with
// each answer, until the job is COMPLETED, FAILED or CANCELLED or ctx ends.
func waitForJob(ctx context.Context, client *http.Client, baseURL, token, jobID string,
	interval time.Duration, onProgress func(jobProgress)) (jobProgress, error) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		p, err := fetchProgress(ctx, client, baseURL, token, jobID)
		if err != nil {
			return p, err
		}
		onProgress(p)
		if p.terminal() {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-ticker.C:
		}
	}
}

// fetchProgress asks once for the job's status.
func fetchProgress(ctx context.Context, client *http.Client, baseURL, token, jobID string) (jobProgress, error) {
	var p jobProgress
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/jobs/"+jobID+"/status", nil)
	if err != nil {
		return p, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return p, fmt.Errorf("job %s: %s %s: %s", jobID, resp.Status, e.Error.Code, e.Error.Message)
	}
	return p, json.NewDecoder(resp.Body).Decode(&p)
}

// A frontend polls a job's status every two seconds to draw a progress bar,
// until the job is over.
func Example_pollStatus() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	final, err := waitForJob(ctx, http.DefaultClient, "http://localhost:8080",
		os.Getenv("TALLYQ_ADMIN_TOKEN"), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 2*time.Second,
		func(p jobProgress) {
			fmt.Printf("%s: %d/%d chunks (%.1f%%)\n", p.Status, p.ProcessedChunks, p.TotalChunks, p.ProgressPercent)
		})
	if err != nil {
		fmt.Println("polling failed:", err)
		return
	}
	if final.Status == "FAILED" && final.ErrorMessage != nil {
		fmt.Println("job failed:", *final.ErrorMessage)
	}
}
